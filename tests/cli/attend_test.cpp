// `mha attend`: round trips against an in-process MultiHeadAttention::forward, and one clear
// error line (with no output file left behind) for each kind of bad input.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "mha/layers/mha_state_dict.hpp"
#include "mha/io/safetensors.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "run_cli.hpp"
#include "testing/allclose.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

// Deterministic values in [-1, 1).
Tensor<> filled(Shape shape, std::uint64_t seed) {
  Tensor<> t(std::move(shape));
  std::uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (float& x : t.values()) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x = static_cast<float>(static_cast<double>(state >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  return t;
}

class CliAttend : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir();
    weights_ = dir_ / "w.safetensors";
    inputs_ = dir_ / "x.safetensors";
    out_ = dir_ / "y.safetensors";
  }

  void write_layer(const MultiHeadAttention& layer) const {
    SafetensorsWriter w;
    add_mha_state_dict(w, layer.weights());
    w.write(weights_);
  }

  std::string command(const std::string& extra) const {
    return "attend --weights " + weights_.string() + " --inputs " + inputs_.string() + " --out " +
           out_.string() + " " + extra;
  }

  // Runs and checks the command failed cleanly: one line naming `what`, no output file.
  void expect_failure(const std::string& extra, const std::string& what) const {
    EXPECT_TRUE(fails_naming(run_mha(command(extra)), what)) << extra;
    EXPECT_FALSE(fs::exists(out_)) << "a failed run left " << out_;
  }

  fs::path dir_, weights_, inputs_, out_;
};

TEST_F(CliAttend, RoundTripWithMasksAndPerHeadWeights) {
  const Index e = 8, heads = 2, l = 3, s = 4, b = 2;
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = e, .num_heads = heads}, 11);
  write_layer(layer);
  const Tensor<> query = filled({l, b, e}, 1), key = filled({s, b, e}, 2),
                 value = filled({s, b, e}, 3);
  BoolTensor attn_mask({l, s}, {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0});  // True = blocked
  Tensor<> padding({b, s}, {0, 0, 0, 0, 0, 0, -1e9F, 0});              // F32: added
  SafetensorsWriter x;
  x.add("query", query.view());
  x.add("key", key.view());
  x.add("value", value.view());
  x.add("attn_mask", attn_mask.view());
  x.add("key_padding_mask", padding.view());
  x.write(inputs_);

  const CliResult r = run_mha(command("--heads 2 --need-weights --per-head --kernel ref"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  MhaOptions options;
  options.attn_mask = from_torch_mha_mask(attn_mask.view());
  options.key_padding_mask = additive_mask(padding.view());
  options.need_weights = true;
  options.average_attn_weights = false;
  const MhaOutput expected = layer.forward(query.view(), key.view(), value.view(), options);
  const SafetensorsFile y = SafetensorsFile::open(out_);
  EXPECT_EQ(y.names(), (std::vector<std::string>{"output", "weights"}));
  EXPECT_TRUE(all_close(y.read_f32("output").view(), expected.output.view(), 1e-6));
  EXPECT_EQ(y.info("weights").shape, (Shape{b, heads, l, s}));
  EXPECT_TRUE(all_close(y.read_f32("weights").view(), expected.weights.view(), 1e-6));
}

TEST_F(CliAttend, BatchFirstKdimVdimBiasKvZeroAttnAveragedWeights) {
  const Index e = 6, heads = 3, l = 2, s = 5, b = 3;
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = e,
                                                               .num_heads = heads,
                                                               .kdim = 4,
                                                               .vdim = 5,
                                                               .add_bias_kv = true,
                                                               .add_zero_attn = true,
                                                               .batch_first = true},
                                                              12);
  write_layer(layer);
  const Tensor<> query = filled({b, l, e}, 4), key = filled({b, s, 4}, 5),
                 value = filled({b, s, 5}, 6);
  SafetensorsWriter x;
  x.add("query", query.view());
  x.add("key", key.view());
  x.add("value", value.view());
  x.write(inputs_);

  const CliResult r = run_mha(command("--heads 3 --batch-first --add-zero-attn --need-weights"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  MhaOptions options;
  options.need_weights = true;
  const MhaOutput expected = layer.forward(query.view(), key.view(), value.view(), options);
  const SafetensorsFile y = SafetensorsFile::open(out_);
  EXPECT_TRUE(all_close(y.read_f32("output").view(), expected.output.view(), 1e-6));
  EXPECT_EQ(y.info("weights").shape, (Shape{b, l, s + 2}));  // + bias_kv + zero_attn
  EXPECT_TRUE(all_close(y.read_f32("weights").view(), expected.weights.view(), 1e-6));
}

TEST_F(CliAttend, UnbatchedSelfAttentionCausalWithoutBias) {
  const Index e = 4, l = 5;
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = e, .num_heads = 2, .bias = false}, 13);
  write_layer(layer);
  const Tensor<> query = filled({l, e}, 7);
  SafetensorsWriter x;
  x.add("query", query.view());  // key and value default to query
  x.write(inputs_);
  const CliResult r = run_mha(command("--heads 2 --causal"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  MhaOptions options;
  options.is_causal = true;
  const MhaOutput expected = layer.forward(query.view(), query.view(), query.view(), options);
  const SafetensorsFile y = SafetensorsFile::open(out_);
  EXPECT_EQ(y.names(), (std::vector<std::string>{"output"}));
  EXPECT_TRUE(all_close(y.read_f32("output").view(), expected.output.view(), 1e-6));
}

// Valid weights (E = 8) and inputs (L = 3, S = 4, B = 2), then one thing broken per test.
class CliAttendErrors : public CliAttend {
 protected:
  void SetUp() override {
    CliAttend::SetUp();
    write_layer(MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 21));
  }
  void write_inputs(const Tensor<>& query, const SafetensorsWriter* masks = nullptr) const {
    SafetensorsWriter x = masks != nullptr ? *masks : SafetensorsWriter{};
    x.add("query", query.view());
    x.write(inputs_);
  }
};

TEST_F(CliAttendErrors, WrongQueryShape) {
  write_inputs(filled({3, 2, 7}, 1));
  expect_failure("--heads 2", "query");
}

TEST_F(CliAttendErrors, HeadsDoNotDivideEmbedDim) {
  write_inputs(filled({3, 2, 8}, 1));
  expect_failure("--heads 3", "num_heads");
}

TEST_F(CliAttendErrors, HeadsZero) {
  write_inputs(filled({3, 2, 8}, 1));
  expect_failure("--heads 0", "--heads");
}

TEST_F(CliAttendErrors, MissingTensor) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 21);
  SafetensorsWriter w;
  w.add("in_proj_weight", layer.weights().in_proj_weight.view());
  w.add("in_proj_bias", layer.weights().in_proj_bias.view());
  w.add("out_proj.bias", layer.weights().out_proj_bias.view());
  w.write(weights_);
  write_inputs(filled({3, 2, 8}, 1));
  expect_failure("--heads 2", "out_proj.weight");
}

TEST_F(CliAttendErrors, InconsistentWeightShape) {
  SafetensorsWriter w;
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 21);
  w.add("in_proj_weight", layer.weights().in_proj_weight.view());
  const Tensor<> out_proj = filled({8, 6}, 3);
  w.add("out_proj.weight", out_proj.view());
  w.write(weights_);
  write_inputs(filled({3, 2, 8}, 1));
  expect_failure("--heads 2", "out_proj.weight");
}

TEST_F(CliAttendErrors, MaskOfTheWrongShape) {
  SafetensorsWriter masks;
  const BoolTensor attn_mask({3, 2});
  masks.add("attn_mask", attn_mask.view());
  write_inputs(filled({3, 2, 8}, 1), &masks);
  expect_failure("--heads 2", "attn_mask");
}

TEST_F(CliAttendErrors, PaddingMaskOfTheWrongShape) {
  SafetensorsWriter masks;
  const BoolTensor padding({3, 3});
  masks.add("key_padding_mask", padding.view());
  write_inputs(filled({3, 2, 8}, 1), &masks);
  expect_failure("--heads 2", "key_padding_mask");
}

TEST_F(CliAttendErrors, MaskOfTheWrongDtype) {
  SafetensorsWriter masks;
  const Tensor<std::int64_t> attn_mask({3, 3});
  masks.add("attn_mask", attn_mask.view());
  write_inputs(filled({3, 2, 8}, 1), &masks);
  expect_failure("--heads 2", "attn_mask");
  EXPECT_NE(run_mha(command("--heads 2")).err.find("I64"), std::string::npos);
}

TEST_F(CliAttendErrors, TruncatedWeightsFile) {
  write_inputs(filled({3, 2, 8}, 1));
  fs::resize_file(weights_, fs::file_size(weights_) - 5);
  expect_failure("--heads 2", "--weights: '" + weights_.string());
}

TEST_F(CliAttendErrors, NonexistentInputsFile) {
  expect_failure("--heads 2", "--inputs: '" + inputs_.string());
}

TEST_F(CliAttendErrors, PerHeadNeedsNeedWeights) {
  write_inputs(filled({3, 2, 8}, 1));
  expect_failure("--heads 2 --per-head", "--per-head");
}

TEST_F(CliAttendErrors, FailureKeepsAnEarlierOutputIntact) {
  write_inputs(filled({3, 2, 8}, 1));
  ASSERT_EQ(run_mha(command("--heads 2")).exit_code, 0);
  const std::string before = slurp(out_);
  write_inputs(filled({3, 2, 7}, 1));
  EXPECT_TRUE(fails_naming(run_mha(command("--heads 2")), "query"));
  EXPECT_EQ(slurp(out_), before);
}

}  // namespace
}  // namespace mha::testing
