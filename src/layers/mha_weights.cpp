// MhaConfig resolution, weight validation and seeded initialisation for MultiHeadAttention.
#include <cmath>
#include <random>

#include "core/uniform_fill.hpp"
#include "layers/tensor_checks.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha {
namespace {

void expect_positive(Index value, const std::string& name) {
  if (value < 1) throw_invalid(name, ">= 1", std::to_string(value));
}

}  // namespace

MhaConfig resolved(MhaConfig c) {
  expect_positive(c.embed_dim, "embed_dim");
  expect_positive(c.num_heads, "num_heads");
  if (c.embed_dim % c.num_heads != 0)
    throw_invalid("embed_dim", "a multiple of num_heads (" + std::to_string(c.num_heads) + ")",
                  std::to_string(c.embed_dim));
  if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;
  if (c.num_kv_heads < 1 || c.num_heads % c.num_kv_heads != 0)
    throw_invalid("num_kv_heads", "a divisor of num_heads (" + std::to_string(c.num_heads) + ")",
                  std::to_string(c.num_kv_heads));
  if (c.kdim == 0) c.kdim = c.embed_dim;
  if (c.vdim == 0) c.vdim = c.embed_dim;
  expect_positive(c.kdim, "kdim");
  expect_positive(c.vdim, "vdim");
  return c;
}

MultiHeadAttention::MultiHeadAttention(MhaConfig config, MhaWeights weights)
    : config_(resolved(config)), weights_(std::move(weights)) {
  const MhaConfig& c = config_;
  const MhaWeights& w = weights_;
  const Index e = c.embed_dim, kv_width = c.num_kv_heads * head_dim();
  const Index packed_rows = e + 2 * kv_width;
  if (w.in_proj_weight.defined()) {
    if (c.kdim != e || c.vdim != e)
      throw_invalid("in_proj_weight", "q/k/v_proj_weight instead, since kdim (" +
                                          std::to_string(c.kdim) + ") or vdim (" +
                                          std::to_string(c.vdim) + ") differs from embed_dim",
                    "in_proj_weight");
    expect_present(w.in_proj_weight, {packed_rows, e}, "in_proj_weight");
    const std::string why = "in_proj_weight is given";
    expect_absent(w.q_proj_weight, "q_proj_weight", why);
    expect_absent(w.k_proj_weight, "k_proj_weight", why);
    expect_absent(w.v_proj_weight, "v_proj_weight", why);
  } else {
    if (!w.q_proj_weight.defined() && !w.k_proj_weight.defined() && !w.v_proj_weight.defined())
      throw_invalid("in_proj_weight", "a tensor of shape " + shape_str(Shape{packed_rows, e}) +
                                          " or q/k/v_proj_weight",
                    "none");
    expect_present(w.q_proj_weight, {e, e}, "q_proj_weight");
    expect_present(w.k_proj_weight, {kv_width, c.kdim}, "k_proj_weight");
    expect_present(w.v_proj_weight, {kv_width, c.vdim}, "v_proj_weight");
  }
  expect_present(w.out_proj_weight, {e, e}, "out_proj.weight");
  if (c.bias) {
    expect_present(w.in_proj_bias, {packed_rows}, "in_proj_bias");
    expect_present(w.out_proj_bias, {e}, "out_proj.bias");
  } else {
    expect_absent(w.in_proj_bias, "in_proj_bias", "bias is false");
    expect_absent(w.out_proj_bias, "out_proj.bias", "bias is false");
  }
  if (c.add_bias_kv) {
    expect_present(w.bias_k, {1, 1, kv_width}, "bias_k");
    expect_present(w.bias_v, {1, 1, kv_width}, "bias_v");
  } else {
    expect_absent(w.bias_k, "bias_k", "add_bias_kv is false");
    expect_absent(w.bias_v, "bias_v", "add_bias_kv is false");
  }
}

MultiHeadAttention MultiHeadAttention::random(MhaConfig config, std::uint64_t seed) {
  const MhaConfig c = resolved(config);
  const Index e = c.embed_dim, kv_width = c.num_kv_heads * (e / c.num_heads);
  std::mt19937_64 rng(seed);
  // Xavier-uniform bound sqrt(6 / (fan_in + fan_out)), as PyTorch initialises in_proj_weight.
  auto xavier = [&](Shape shape) {
    Tensor<> t(shape);
    fill_uniform(t.values(), std::sqrt(6.0 / static_cast<double>(shape[0] + shape[1])), rng);
    return t;
  };
  auto small = [&](Shape shape) {
    Tensor<> t(std::move(shape));
    fill_uniform(t.values(), 0.1, rng);
    return t;
  };
  MhaWeights w;
  if (c.kdim == e && c.vdim == e) {
    w.in_proj_weight = xavier({e + 2 * kv_width, e});
  } else {
    w.q_proj_weight = xavier({e, e});
    w.k_proj_weight = xavier({kv_width, c.kdim});
    w.v_proj_weight = xavier({kv_width, c.vdim});
  }
  w.out_proj_weight = xavier({e, e});
  if (c.bias) {
    w.in_proj_bias = small({e + 2 * kv_width});
    w.out_proj_bias = small({e});
  }
  if (c.add_bias_kv) {
    w.bias_k = small({1, 1, kv_width});
    w.bias_v = small({1, 1, kv_width});
  }
  return {c, std::move(w)};
}

MhaTensors<Tensor<>> copy_weights(const MhaWeights& weights) {
  MhaTensors<Tensor<>> copy;
  for_each_mha_tensor([](const char*, const Weight& from, Tensor<>& to) {
                        if (from.defined()) to = Tensor<>::copy_of(from.view());
                      },
                      weights, copy);
  return copy;
}

MhaWeights owned_weights(MhaTensors<Tensor<>> tensors) {
  MhaWeights weights;
  for_each_mha_tensor([](const char*, Tensor<>& from, Weight& to) { to = Weight(std::move(from)); },
                      tensors, weights);
  return weights;
}

}  // namespace mha
