// The causal language model against PyTorch: a random pre-LN causal checkpoint and what torch's
// nn.TransformerEncoderLayer(norm_first=True) computes for it with the causal mask
// (scripts/make_lm_fixture.py, tests/fixtures/lm/). Every hidden state, each layer's per-head
// weights and the logits agree within 1e-4, the weights are lower-triangular, and decoding the
// same streams with a cache (a prefill, then one token at a time) gives the same logits.
#include <gtest/gtest.h>

#include <string>

#include "mha/io/safetensors.hpp"
#include "mha/models/transformer.hpp"
#include "mha/train/checkpoint.hpp"
#include "testing/allclose.hpp"

namespace mha::testing {
namespace {

const std::string kDir = std::string(MHA_FIXTURES_DIR) + "/lm/";
// float64 torch vs our float32 forward: the float32 drift of torch's own modules is ~6e-7, so
// 1e-4 is two orders of margin and still far below any wrong-term error (O(0.1) on these weights).
constexpr double kTolerance = 1e-4;

struct LmFixture {
  Transformer model;
  SafetensorsFile expected;
  Tensor<std::int64_t> ids;
};

LmFixture load() {
  train::Checkpoint c = train::load_checkpoint(kDir + "model.safetensors");
  SafetensorsFile expected = SafetensorsFile::open(kDir + "expected.safetensors");
  Tensor<std::int64_t> ids = expected.read_i64("input_ids");
  return {Transformer(c.config, std::move(c.parameters)), std::move(expected), std::move(ids)};
}

TEST(TransformerLm, CheckpointSaysCausal) {
  const LmFixture f = load();
  EXPECT_TRUE(f.model.config().causal);
  EXPECT_EQ(f.model.config().norm, NormPlacement::pre);
}

TEST(TransformerLm, ForwardMatchesPyTorchLayerByLayer) {
  const LmFixture f = load();
  const TransformerOutput out = f.model.forward(
      {.input_ids = f.ids.view()}, {.output_hidden_states = true, .output_attentions = true, .output_query_key = false},
      {.kernel = KernelKind::cpu, .threads = 1});
  const Index layers = f.model.config().num_layers;
  ASSERT_EQ(static_cast<Index>(out.hidden_states.size()), layers + 1);
  // In order, so a failure names the first tensor that diverges.
  for (Index n = 0; n <= layers; ++n) {
    const std::string name = "hidden_states." + std::to_string(n);
    ASSERT_TRUE(all_close(out.hidden_states[static_cast<std::size_t>(n)].view(),
                          f.expected.read_f32(name).view(), kTolerance))
        << name;
  }
  for (Index l = 0; l < layers; ++l) {
    const std::string name = "attentions." + std::to_string(l);
    const Tensor<>& w = out.attentions[static_cast<std::size_t>(l)];
    EXPECT_TRUE(all_close(w.view(), f.expected.read_f32(name).view(), kTolerance)) << name;
    // Causal: row i puts no weight on keys j > i.
    const Index b = w.dim(0), h = w.dim(1), length = w.dim(2);
    for (Index i = 0; i < b * h * length; ++i)
      for (Index j = i % length + 1; j < length; ++j)
        ASSERT_EQ(w.data()[i * length + j], 0.0f) << name << " row " << i << " key " << j;
  }
  EXPECT_TRUE(all_close(out.logits.view(), f.expected.read_f32("logits").view(), kTolerance)) << "logits";
}

TEST(TransformerLm, CachedDecodingMatchesPyTorch) {
  const LmFixture f = load();
  const Index batch = f.ids.dim(0), length = f.ids.dim(1), vocab = f.model.config().vocab_size;
  const Tensor<> expected = f.expected.read_f32("logits");
  TransformerCache cache = f.model.make_cache(batch, length);
  // A prefill of 3 tokens, then the rest one at a time.
  const Index prefill = 3;
  Tensor<> got({batch, length, vocab});
  for (Index start = 0; start < length;) {
    const Index n = start == 0 ? prefill : 1;
    Tensor<std::int64_t> step({batch, n});
    for (Index b = 0; b < batch; ++b)
      for (Index i = 0; i < n; ++i) step(b, i) = f.ids(b, start + i);
    const Tensor<> logits = f.model.decode(step.view(), cache);
    for (Index b = 0; b < batch; ++b)
      for (Index i = 0; i < n; ++i)
        for (Index v = 0; v < vocab; ++v) got(b, start + i, v) = logits(b, i, v);
    start += n;
  }
  EXPECT_EQ(cache.length(0), length);
  EXPECT_TRUE(all_close(got.view(), expected.view(), kTolerance));
}

}  // namespace
}  // namespace mha::testing
