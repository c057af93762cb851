// MultiHeadAttention's backward pass for what PyTorch 1.13 cannot check (the PyTorch parity is
// tests/parity/mha_grad_parity_test.cpp): grouped-query attention, the sliding window,
// bottom-right causal alignment and dropout, against finite differences of the layer, and GQA
// against a full-head layer whose kv heads are repeated.
//
// Finite differences here perturb the float inputs and weights of the real float layer
// (forward with a tape, reference kernel) by ±h, h = 1e-2, and take the loss L = Σ output·G in
// float64. Truncation error is h²/6·|L‴| ≈ 2e-5 for the O(1) third derivatives of these small
// problems. Float rounding of the projections and outputs is ≈ 1e-7 per term, and largely the
// same in L(x + h) and L(x − h), so it adds well under 1e-5 to the quotient. Measured worst
// |Δ| is 1e-5; the bound |Δ| ≤ 1e-4·(1 + |fd|) keeps a 10× margin and still catches any wrong
// term (those are O(0.01..1)).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "mha/layers/multi_head_attention.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::all_close;
using testing::random_tensor;

constexpr double kStep = 1e-2;
constexpr double kFdTol = 1e-4;

struct Inputs {
  Tensor<> query, key, value, grad_output;
  MhaOptions options;
  AttentionDropout dropout;
};

// The training forward: output and tape.
struct Trained {
  MhaOutput out;
  MhaTape tape;
};
Trained train_forward(const MultiHeadAttention& layer, const Inputs& in) {
  Trained t;
  t.out = layer.forward(in.query.view(), in.key.view(), in.value.view(), in.options, {}, &t.tape,
                        in.dropout);
  return t;
}

double loss(const MultiHeadAttention& layer, const Inputs& in) {
  const Trained t = train_forward(layer, in);
  double sum = 0.0;
  for (std::size_t n = 0; n < t.out.output.values().size(); ++n)
    sum += double{t.out.output.values()[n]} * in.grad_output.values()[n];
  return sum;
}

// Central difference of `loss` in every element of *target, which `rebuild` reads.
Tensor<> finite_difference(Tensor<>* target, const std::function<double()>& evaluate) {
  Tensor<> grad(target->shape());
  for (std::size_t n = 0; n < target->values().size(); ++n) {
    float& x = target->values()[n];
    const float saved = x;
    x = static_cast<float>(saved + kStep);
    const double up = evaluate();
    x = static_cast<float>(saved - kStep);
    const double down = evaluate();
    x = saved;
    grad.values()[n] = static_cast<float>((up - down) / (2 * kStep));
  }
  return grad;
}

// Every weight and input gradient of `layer` against finite differences.
void expect_matches_finite_differences(const MultiHeadAttention& layer, Inputs in) {
  const MhaGradients g = backward(layer, train_forward(layer, in).tape, in.grad_output.view());
  MhaTensors<Tensor<>> w = copy_weights(layer.weights());
  const auto with_weights = [&] { return loss(MultiHeadAttention(layer.config(), owned_weights(w)), in); };
  const auto with_inputs = [&] { return loss(layer, in); };
  const std::vector<std::tuple<std::string, Tensor<>*, const Tensor<>*, std::function<double()>>>
      checks = {{"in_proj_weight", &w.in_proj_weight, &g.in_proj_weight, with_weights},
                {"q_proj_weight", &w.q_proj_weight, &g.q_proj_weight, with_weights},
                {"k_proj_weight", &w.k_proj_weight, &g.k_proj_weight, with_weights},
                {"v_proj_weight", &w.v_proj_weight, &g.v_proj_weight, with_weights},
                {"in_proj_bias", &w.in_proj_bias, &g.in_proj_bias, with_weights},
                {"out_proj.weight", &w.out_proj_weight, &g.out_proj_weight, with_weights},
                {"out_proj.bias", &w.out_proj_bias, &g.out_proj_bias, with_weights},
                {"bias_k", &w.bias_k, &g.bias_k, with_weights},
                {"bias_v", &w.bias_v, &g.bias_v, with_weights},
                {"query", &in.query, &g.d_query, with_inputs},
                {"key", &in.key, &g.d_key, with_inputs},
                {"value", &in.value, &g.d_value, with_inputs}};
  for (const auto& [name, target, ours, evaluate] : checks) {
    SCOPED_TRACE(name);
    ASSERT_EQ(target->defined(), ours->defined());
    if (!target->defined()) continue;
    const Tensor<> fd = finite_difference(target, evaluate);
    EXPECT_TRUE(all_close(ours->view(), fd.view(), kFdTol, kFdTol));
  }
}

Inputs random_inputs(const MhaConfig& c, Index batch, Index len, Index src, std::uint64_t seed) {
  return {random_tensor({len, batch, c.embed_dim}, seed),
          random_tensor({src, batch, c.kdim}, seed + 1),
          random_tensor({src, batch, c.vdim}, seed + 2),
          random_tensor({len, batch, c.embed_dim}, seed + 3),
          {},
          {}};
}

TEST(MhaBackward, GroupedQueryWithWindowAndBiasKvMatchesFiniteDifferences) {
  const MhaConfig c{.embed_dim = 8,
                    .num_heads = 4,
                    .num_kv_heads = 2,
                    .kdim = 5,
                    .vdim = 3,
                    .add_bias_kv = true,
                    .add_zero_attn = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(c, 3);
  Inputs in = random_inputs(layer.config(), 2, 3, 5, 30);
  in.options.is_causal = true;
  in.options.causal_alignment = Alignment::bottom_right;
  in.options.window_left = 2;
  expect_matches_finite_differences(layer, in);
}

TEST(MhaBackward, PackedSelfAttentionWithDropoutMatchesFiniteDifferences) {
  const MhaConfig c{.embed_dim = 6, .num_heads = 3, .num_kv_heads = 1, .batch_first = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(c, 4);
  Inputs in;
  in.query = random_tensor({2, 4, 6}, 40);
  in.key = in.query;
  in.value = in.query;
  in.grad_output = random_tensor({2, 4, 6}, 41);
  in.dropout = {.rate = 0.25, .seed = 77};
  expect_matches_finite_differences(layer, in);
}

TEST(MhaBackward, WithoutDropoutTheTrainingForwardIsTheForward) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2, .num_kv_heads = 1, .add_bias_kv = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(c, 5);
  Inputs in = random_inputs(layer.config(), 2, 3, 4, 50);
  in.options.is_causal = true;
  const Trained trained = train_forward(layer, in);
  const MhaOutput out = layer.forward(in.query.view(), in.key.view(), in.value.view(), in.options);
  EXPECT_TRUE(all_close(trained.out.output.view(), out.output.view(), 1e-6));
  EXPECT_EQ(trained.tape.lse.shape(), (Shape{2, 2, 3}));  // O(L) per head: no [L, S] probabilities
}

// A GQA layer equals a full-head layer whose kv projection rows (and bias_k / bias_v) are
// repeated per query head; its kv gradients are the repeated layer's, summed over each group.
TEST(MhaBackward, GroupedQueryEqualsRepeatedKvHeadsSummedOverTheGroup) {
  const MhaConfig gc{
      .embed_dim = 8, .num_heads = 4, .num_kv_heads = 2, .kdim = 5, .vdim = 7, .add_bias_kv = true};
  const MultiHeadAttention gqa = MultiHeadAttention::random(gc, 6);
  const Index e = 8, d = 2, group = 2, kv_width = 4;
  const MhaWeights& w = gqa.weights();
  MhaTensors<Tensor<>> fw = copy_weights(w);
  fw.k_proj_weight = Tensor<>({e, 5});
  fw.v_proj_weight = Tensor<>({e, 7});
  fw.in_proj_bias = Tensor<>({3 * e});
  fw.bias_k = Tensor<>({1, 1, e});
  fw.bias_v = Tensor<>({1, 1, e});
  // Full row r (head r / d) reads GQA row (r / d / group)·d + r % d.
  const auto source_row = [&](Index r) { return (r / d / group) * d + r % d; };
  for (Index r = 0; r < e; ++r) {
    const Index s = source_row(r);
    for (Index x = 0; x < 5; ++x) fw.k_proj_weight(r, x) = w.k_proj_weight(s, x);
    for (Index x = 0; x < 7; ++x) fw.v_proj_weight(r, x) = w.v_proj_weight(s, x);
    fw.in_proj_bias(r) = w.in_proj_bias(r);
    fw.in_proj_bias(e + r) = w.in_proj_bias(e + s);
    fw.in_proj_bias(2 * e + r) = w.in_proj_bias(e + kv_width + s);
    fw.bias_k(0, 0, r) = w.bias_k(0, 0, s);
    fw.bias_v(0, 0, r) = w.bias_v(0, 0, s);
  }
  MhaConfig fc = gc;
  fc.num_kv_heads = 4;
  const MultiHeadAttention full(fc, owned_weights(fw));
  Inputs in = random_inputs(gqa.config(), 2, 3, 4, 60);
  Tensor<std::uint8_t> padding({2, 4});
  padding(1, 0) = padding(1, 3) = 1;
  in.options.key_padding_mask = from_torch_mha_mask(padding.view());
  const auto run = [&](const MultiHeadAttention& layer) {
    return backward(layer, train_forward(layer, in).tape, in.grad_output.view());
  };
  const MhaGradients g = run(gqa), f = run(full);
  constexpr double kTol = 1e-5;
  EXPECT_TRUE(all_close(g.d_query.view(), f.d_query.view(), kTol));
  EXPECT_TRUE(all_close(g.d_key.view(), f.d_key.view(), kTol));
  EXPECT_TRUE(all_close(g.d_value.view(), f.d_value.view(), kTol));
  EXPECT_TRUE(all_close(g.q_proj_weight.view(), f.q_proj_weight.view(), kTol));
  EXPECT_TRUE(all_close(g.out_proj_weight.view(), f.out_proj_weight.view(), kTol));
  EXPECT_TRUE(all_close(g.out_proj_bias.view(), f.out_proj_bias.view(), kTol));
  Tensor<> k_sum({kv_width, 5}), v_sum({kv_width, 7}), bias_sum({e + 2 * kv_width}),
      bias_k_sum({1, 1, kv_width}), bias_v_sum({1, 1, kv_width});
  for (Index r = 0; r < e; ++r) {
    const Index s = source_row(r);
    for (Index x = 0; x < 5; ++x) k_sum(s, x) += f.k_proj_weight(r, x);
    for (Index x = 0; x < 7; ++x) v_sum(s, x) += f.v_proj_weight(r, x);
    bias_sum(r) = f.in_proj_bias(r);
    bias_sum(e + s) += f.in_proj_bias(e + r);
    bias_sum(e + kv_width + s) += f.in_proj_bias(2 * e + r);
    bias_k_sum(0, 0, s) += f.bias_k(0, 0, r);
    bias_v_sum(0, 0, s) += f.bias_v(0, 0, r);
  }
  EXPECT_TRUE(all_close(g.k_proj_weight.view(), k_sum.view(), kTol));
  EXPECT_TRUE(all_close(g.v_proj_weight.view(), v_sum.view(), kTol));
  EXPECT_TRUE(all_close(g.in_proj_bias.view(), bias_sum.view(), kTol));
  EXPECT_TRUE(all_close(g.bias_k.view(), bias_k_sum.view(), kTol));
  EXPECT_TRUE(all_close(g.bias_v.view(), bias_v_sum.view(), kTol));
}

TEST(MhaBackward, SavedMasksOutliveTheCallersMasks) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 4, .num_heads = 2}, 7);
  Inputs in = random_inputs(layer.config(), 1, 2, 3, 70);
  MhaGradients expected, after_free;
  MhaTape saved;
  {
    Tensor<std::uint8_t> padding({1, 3});
    padding(0, 1) = 1;
    in.options.key_padding_mask = from_torch_mha_mask(padding.view());
    saved = train_forward(layer, in).tape;
    expected = backward(layer, saved, in.grad_output.view());
    padding(0, 1) = 0;  // the saved params must read their own copy
  }
  after_free = backward(layer, saved, in.grad_output.view());
  EXPECT_TRUE(all_close(after_free.d_key.view(), expected.d_key.view(), 0.0));
  for (Index c = 0; c < 4; ++c) EXPECT_EQ(after_free.d_key(1, 0, c), 0.0f);  // padded key
}

TEST(MhaBackward, RejectsNeedWeightsAndAMisshapenGradOutput) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 4, .num_heads = 2}, 8);
  Inputs in = random_inputs(layer.config(), 1, 2, 3, 80);
  in.options.need_weights = true;
  EXPECT_TRUE(testing::throws_error([&] { (void)train_forward(layer, in); },
                                    {"need_weights: expected false (training never stores the "
                                     "probabilities), got true"}));
  in.options.need_weights = false;
  // Dropout belongs to training: without a tape it is refused.
  EXPECT_TRUE(testing::throws_error(
      [&] {
        (void)layer.forward(in.query.view(), in.key.view(), in.value.view(), in.options, {},
                            nullptr, {.rate = 0.1, .seed = 1});
      },
      {"dropout: expected rate 0 without a tape", "got 0.1"}));
  const MhaTape saved = train_forward(layer, in).tape;
  EXPECT_TRUE(testing::throws_error([&] { backward(layer, saved, in.key.view()); },
                                    {"grad_output", "[2, 1, 4]"}));
}

}  // namespace
}  // namespace mha
