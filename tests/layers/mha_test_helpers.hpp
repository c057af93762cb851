// Helpers for the MultiHeadAttention tests: layout shuffles and an independent naive layer.
#pragma once

#include <cmath>

#include "mha/layers/multi_head_attention.hpp"
#include "testing/naive_attention.hpp"

namespace mha::testing {

// (A, B, C) → (B, A, C), contiguous.
inline Tensor<> swap01(const Tensor<>& x) {
  const TensorView<const float> v = x.view();
  return Tensor<>::copy_of(
      TensorView<const float>(x.data(), {x.dim(1), x.dim(0), x.dim(2)}, {v.stride(1), v.stride(0), v.stride(2)}));
}

// x[n] (the first dimension dropped), contiguous.
template <class T>
Tensor<T> select0(const Tensor<T>& x, Index n) {
  const TensorView<const T> v = x.view();
  const Shape shape(x.shape().begin() + 1, x.shape().end());
  const Shape strides(v.strides().begin() + 1, v.strides().end());
  return Tensor<T>::copy_of(TensorView<const T>(x.data() + n * v.stride(0), shape, strides));
}

struct NaiveMhaOutput {
  Tensor<> output;   // [B, L, E]
  Tensor<> weights;  // [B, H, L, S'] per head
};

// y[b, n, o] = Σ_i x[b, n, i]·W[o, i] + bias[o]   (W rows first … first + rows of `w`)
inline Tensor<> naive_project(const Tensor<>& x, const Weight& w, Index first, Index rows,
                              const Weight& bias, Index bias_first) {
  Tensor<> y({x.dim(0), x.dim(1), rows});
  for (Index b = 0; b < x.dim(0); ++b)
    for (Index n = 0; n < x.dim(1); ++n)
      for (Index o = 0; o < rows; ++o) {
        double acc = bias.defined() ? double{bias(bias_first + o)} : 0.0;
        for (Index i = 0; i < x.dim(2); ++i) acc += double{x(b, n, i)} * w(first + o, i);
        y(b, n, o) = static_cast<float>(acc);
      }
  return y;
}

// nn.MultiheadAttention written out: batch-first inputs q [B, L, E], k [B, S, kdim],
// v [B, S, vdim]; `allowed` and `bias` act on the S' = S (+1 bias_kv) (+1 zero_attn) keys.
inline NaiveMhaOutput naive_mha(const MultiHeadAttention& layer, const Tensor<>& q, const Tensor<>& k,
                                const Tensor<>& v, const KeyPredicate& allowed = {},
                                const KeyBias& bias = {}, std::optional<double> scale = {}) {
  const MhaConfig& c = layer.config();
  const MhaWeights& w = layer.weights();
  const Index e = c.embed_dim, heads = c.num_heads, kv_heads = c.num_kv_heads, d = layer.head_dim();
  const Index kv_width = kv_heads * d, batch = q.dim(0), len = q.dim(1), src = k.dim(1);
  const Index kv_len = src + (c.add_bias_kv ? 1 : 0) + (c.add_zero_attn ? 1 : 0);
  const bool packed = w.in_proj_weight.defined();
  const Tensor<> qp = naive_project(q, packed ? w.in_proj_weight : w.q_proj_weight, 0, e, w.in_proj_bias, 0);
  const Tensor<> kp = naive_project(k, packed ? w.in_proj_weight : w.k_proj_weight, packed ? e : 0, kv_width,
                                    w.in_proj_bias, e);
  const Tensor<> vp = naive_project(v, packed ? w.in_proj_weight : w.v_proj_weight, packed ? e + kv_width : 0,
                                    kv_width, w.in_proj_bias, e + kv_width);
  Tensor<> qh({batch, heads, len, d}), kh({batch, kv_heads, kv_len, d}), vh({batch, kv_heads, kv_len, d});
  for (Index b = 0; b < batch; ++b) {
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < len; ++i)
        for (Index x = 0; x < d; ++x) qh(b, h, i, x) = qp(b, i, h * d + x);
    for (Index g = 0; g < kv_heads; ++g)
      for (Index x = 0; x < d; ++x) {
        for (Index j = 0; j < src; ++j) {
          kh(b, g, j, x) = kp(b, j, g * d + x);
          vh(b, g, j, x) = vp(b, j, g * d + x);
        }
        if (c.add_bias_kv) {
          kh(b, g, src, x) = w.bias_k(0, 0, g * d + x);
          vh(b, g, src, x) = w.bias_v(0, 0, g * d + x);
        }  // the zero_attn position stays 0
      }
  }
  const NaiveResult r = naive_attention(qh, kh, vh, scale.value_or(1.0 / std::sqrt(static_cast<double>(d))),
                                        allowed, bias);
  Tensor<> concat({batch, len, e});
  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < len; ++i)
        for (Index x = 0; x < d; ++x) concat(b, i, h * d + x) = r.out(b, h, i, x);
  return {naive_project(concat, w.out_proj_weight, 0, e, w.out_proj_bias, 0), r.weights};
}

}  // namespace mha::testing
