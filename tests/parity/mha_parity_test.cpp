// Tier 1 of ../shared/numerics.md: the reference MultiHeadAttention against PyTorch 1.13's
// nn.MultiheadAttention, max |Δ| ≤ 1e-5 on outputs and on averaged and per-head weights.
//
// One test per fixture file (scripts/make_parity_fixtures.py writes them). Each test walks the
// layer's stages in order — projections, attention core, output projection, then the whole
// layer — so the first failing line names the first tensor that diverges.
// Fixtures are read from $MHA_PARITY_DIR, default MHA_FIXTURES_DIR/parity.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mha/kernels/linear.hpp"
#include "mha/layers/scaled_dot_product_attention.hpp"
#include "parity/fixture_suite.hpp"
#include "parity/parity_case.hpp"
#include "testing/allclose.hpp"

namespace mha::parity {
namespace {

constexpr double kAtol = 1e-5;  // numerics.md, tier 1 (fp32)
constexpr std::size_t kMinimumCases = 100;
const Context kReference{.kernel = KernelKind::reference};

std::filesystem::path fixture_dir() {
  const char* dir = std::getenv("MHA_PARITY_DIR");
  return dir != nullptr && *dir != '\0' ? std::filesystem::path(dir)
                                        : std::filesystem::path(MHA_FIXTURES_DIR) / "parity";
}

// case_*.safetensors in the fixture directory.
std::vector<std::string> case_files() { return fixture_files(fixture_dir(), "case_"); }

// Worst |Δ| per compared tensor over the whole run, printed at the end (for docs/numerics.md).
std::string report_heading() {
  std::ostringstream heading;
  heading << "[ parity ] worst |Δ| over all cases (tolerance " << kAtol << "):\n";
  return heading.str();
}
WorstReport* const kReport =
    add_worst_report(report_heading(), [](const std::string& name, double diff) {
      std::cout << "[ parity ]   " << name << ": " << diff << "\n";
    });

void expect_close(const std::string& name, TensorView<const float> actual,
                  TensorView<const float> expected) {
  kReport->record(name, testing::max_abs_diff(actual, expected));
  EXPECT_TRUE(testing::all_close(actual, expected, kAtol)) << "tensor: " << name;
}

// PyTorch's (T, B, X) / batch_first (B, T, X) / unbatched (T, X) read as [B, T, X].
TensorView<const float> batch_major(TensorView<const float> x, const ParityCase& c) {
  if (c.unbatched) return {x.data(), {1, x.dim(0), x.dim(1)}, {0, x.stride(0), x.stride(1)}};
  if (c.config.batch_first) return x;
  return {x.data(), {x.dim(1), x.dim(0), x.dim(2)}, {x.stride(1), x.stride(0), x.stride(2)}};
}

// A contiguous [B, T, H·D] buffer seen as [B, H, T, D].
TensorView<const float> split_heads(const Tensor<>& rows, Index heads) {
  const Index batch = rows.dim(0), len = rows.dim(1), width = rows.dim(2), d = width / heads;
  return {rows.data(), {batch, heads, len, d}, {len * width, d, width, 1}};
}

// Positions [first, first + count) of a contiguous [B, H, S', D] tensor.
TensorView<const float> key_positions(const Tensor<>& kv, Index first, Index count) {
  const Index heads = kv.dim(1), len = kv.dim(2), d = kv.dim(3);
  return {kv.data() + first * d, {kv.dim(0), heads, count, d}, {heads * len * d, len * d, d, 1}};
}

using Projected = ProjectionRows<const float>;

Tensor<> project(TensorView<const float> x, const Projected& p) {
  Tensor<> y({x.dim(0), x.dim(1), p.weight.dim(0)});
  linear({.x = x, .weight = p.weight, .bias = p.bias, .y = y.view()}, kReference);
  return y;
}

// Every mask of the case folded into the additive [B, H, L, S'] bias PyTorch adds to the scores:
// −∞ where padding, a boolean mask or causality blocks a key; float masks added; the appended
// bias_kv / zero_attn keys (columns ≥ S) never masked.
Tensor<> merged_additive_mask(const ParityCase& c) {
  const Index batch = c.batch(), heads = c.config.num_heads, len = c.tgt_len(), src = c.src_len();
  const float blocked = -std::numeric_limits<float>::infinity();
  Tensor<> bias({batch, heads, len, c.kv_len()});
  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < len; ++i)
        for (Index j = 0; j < src; ++j) {
          float& x = bias(b, h, i, j);
          const Index slice = b * heads + h;  // (B·H, L, S) masks; unbatched (H, L, S) has b = 0
          if (c.key_padding_mask &&
              (c.unbatched ? (*c.key_padding_mask)(j) : (*c.key_padding_mask)(b, j)))
            x = blocked;
          if (c.is_causal && j > i) x = blocked;
          if (c.bool_attn_mask) {
            const BoolTensor& m = *c.bool_attn_mask;
            if (m.rank() == 2 ? m(i, j) : m(slice, i, j)) x = blocked;
          }
          if (c.float_attn_mask) {
            const Tensor<>& m = *c.float_attn_mask;
            x += m.rank() == 2 ? m(i, j) : m(slice, i, j);
          }
        }
  return bias;
}

// [B, H, L, D] → [B, L, H·D], the concatenation the output projection reads.
Tensor<> concat_heads(const Tensor<>& attn) {
  const Index batch = attn.dim(0), heads = attn.dim(1), len = attn.dim(2), d = attn.dim(3);
  Tensor<> rows({batch, len, heads * d});
  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < len; ++i)
        for (Index x = 0; x < d; ++x) rows(b, i, h * d + x) = attn(b, h, i, x);
  return rows;
}

class MhaParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    c_ = load_parity_case(GetParam());
    RecordProperty("description", c_.describe());
  }
  const Tensor<>& expected(const std::string& name) const { return c_.expected.at(name); }

  ParityCase c_;
};

TEST_P(MhaParity, ConfigMatchesMetadata) {
  SCOPED_TRACE(c_.describe());
  const MhaConfig& config = c_.config;
  EXPECT_EQ(config.embed_dim, metadata_int(c_.metadata, "embed_dim"));
  EXPECT_EQ(config.kdim, metadata_int(c_.metadata, "kdim"));
  EXPECT_EQ(config.vdim, metadata_int(c_.metadata, "vdim"));
  EXPECT_EQ(config.bias, metadata_int(c_.metadata, "bias") != 0);
  EXPECT_EQ(config.bias, c_.weights.out_proj_bias.defined());
  EXPECT_EQ(config.add_bias_kv, metadata_int(c_.metadata, "add_bias_kv") != 0);
  EXPECT_EQ(c_.unbatched, metadata_int(c_.metadata, "unbatched") != 0);
  EXPECT_EQ(c_.weights.in_proj_weight.defined(),
            config.kdim == config.embed_dim && config.vdim == config.embed_dim);
}

TEST_P(MhaParity, Projections) {
  SCOPED_TRACE(c_.describe());
  const Index e = c_.config.embed_dim, heads = c_.config.num_heads, src = c_.src_len();
  const Tensor<> q = project(batch_major(c_.query.view(), c_), projection_rows(c_.weights, resolved(c_.config), Projection::query));
  const Tensor<> k = project(batch_major(c_.key.view(), c_), projection_rows(c_.weights, resolved(c_.config), Projection::key));
  const Tensor<> v = project(batch_major(c_.value.view(), c_), projection_rows(c_.weights, resolved(c_.config), Projection::value));
  expect_close("intermediate.q", split_heads(q, heads), expected("intermediate.q").view());
  expect_close("intermediate.k", split_heads(k, heads),
               key_positions(expected("intermediate.k"), 0, src));
  expect_close("intermediate.v", split_heads(v, heads),
               key_positions(expected("intermediate.v"), 0, src));

  const Index batch = c_.batch(), d = e / heads;
  if (c_.config.add_bias_kv) {  // key/value position S holds bias_k / bias_v in every batch
    const auto every_batch = [&](const Weight& b) {
      return TensorView<const float>(b.data(), {batch, heads, 1, d}, {0, d, d, 1});
    };
    expect_close("intermediate.k (bias_k)", every_batch(c_.weights.bias_k),
                 key_positions(expected("intermediate.k"), src, 1));
    expect_close("intermediate.v (bias_v)", every_batch(c_.weights.bias_v),
                 key_positions(expected("intermediate.v"), src, 1));
  }
  if (c_.config.add_zero_attn) {  // the last key/value position is zero
    const Tensor<> zeros({batch, heads, 1, d});
    expect_close("intermediate.k (zero_attn)", zeros.view(),
                 key_positions(expected("intermediate.k"), c_.kv_len() - 1, 1));
    expect_close("intermediate.v (zero_attn)", zeros.view(),
                 key_positions(expected("intermediate.v"), c_.kv_len() - 1, 1));
  }
}

TEST_P(MhaParity, AttentionCore) {
  SCOPED_TRACE(c_.describe());
  const Tensor<> bias = merged_additive_mask(c_);
  SdpaOptions options;
  options.attn_mask = additive_mask(bias.view());
  options.need_weights = true;
  const SdpaOutput core = scaled_dot_product_attention(
      expected("intermediate.q").view(), expected("intermediate.k").view(),
      expected("intermediate.v").view(), options, kReference);
  expect_close("intermediate.attn", core.output.view(), expected("intermediate.attn").view());
  expect_close("core weights vs expected.weights_per_head", core.weights.view(),
               expected("expected.weights_per_head").view_as(core.weights.shape()));
}

TEST_P(MhaParity, OutputProjection) {
  SCOPED_TRACE(c_.describe());
  const Tensor<> rows = concat_heads(expected("intermediate.attn"));
  const Projected out{c_.weights.out_proj_weight.view(), c_.weights.out_proj_bias.defined()
                                                              ? c_.weights.out_proj_bias.view()
                                                              : TensorView<const float>{}};
  expect_close("out_proj(intermediate.attn) vs expected.output", project(rows.view(), out).view(),
               batch_major(expected("expected.output").view(), c_));
}

TEST_P(MhaParity, Layer) {
  SCOPED_TRACE(c_.describe());
  // Moved, not copied: this test is the weights' last user.
  const MultiHeadAttention layer(c_.config, std::move(c_.weights));
  // Shared inputs stay shared, as they were for torch (self-attention takes the packed path).
  const TensorView<const float> query = c_.query.view();
  const TensorView<const float> key = c_.self_attention ? query : c_.key.view();
  const TensorView<const float> value =
      c_.self_attention || c_.key_is_value ? key : c_.value.view();

  MhaOptions options = c_.options();
  options.need_weights = true;
  options.average_attn_weights = true;
  const MhaOutput averaged = layer.forward(query, key, value, options, kReference);
  options.average_attn_weights = false;
  const MhaOutput per_head = layer.forward(query, key, value, options, kReference);

  expect_close("expected.output", averaged.output.view(), expected("expected.output").view());
  expect_close("expected.output (per-head call)", per_head.output.view(),
               expected("expected.output").view());
  expect_close("expected.weights_avg", averaged.weights.view(),
               expected("expected.weights_avg").view());
  expect_close("expected.weights_per_head", per_head.weights.view(),
               expected("expected.weights_per_head").view());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MhaParity, ::testing::ValuesIn(case_files()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return std::filesystem::path(param_info.param).stem().string();
                         });
// An empty directory is reported by the count test below, with the directory's name.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MhaParity);

TEST(MhaParityFixtures, AtLeastAHundredCases) {
  EXPECT_GE(case_files().size(), kMinimumCases)
      << "fixtures in " << fixture_dir() << "; regenerate with "
      << "/usr/bin/python3 scripts/make_parity_fixtures.py --out tests/fixtures/parity";
}

}  // namespace
}  // namespace mha::parity
