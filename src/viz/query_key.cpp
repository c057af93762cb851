#include "mha/viz/query_key.hpp"

#include <algorithm>
#include <cmath>

#include "mha/core/error.hpp"
#include "mha/kernels/linear.hpp"

namespace mha::viz {
namespace {

// y = x·Wᵀ + b for x [L, In], W [Out, In], b [Out] or absent → [L, Out].
Tensor<> project(TensorView<const float> x, TensorView<const float> weight,
                 TensorView<const float> bias, const Context& ctx) {
  const Index length = x.dim(0), out_features = weight.dim(0);
  Tensor<> y({1, length, out_features});
  linear({.x = {x.data(), {1, length, x.dim(1)}, {0, x.stride(0), x.stride(1)}},
          .weight = weight,
          .bias = bias,
          .y = y.view()},
         ctx);
  return y;
}

// [L, heads_in·D] → [H, L, D], head h taking column block h / (H / heads_in) (GQA sharing).
Tensor<> split_heads(const Tensor<>& y, Index heads, Index heads_in, Index head_dim) {
  const Index length = y.dim(1), group = heads / heads_in;
  const Index width = y.dim(2);
  Tensor<> out({heads, length, head_dim});
  float* out_hid = out.data();
  for (Index h = 0; h < heads; ++h)
    for (Index i = 0; i < length; ++i) {
      const float* y_id = y.data() + i * width + (h / group) * head_dim;
      out_hid = std::copy_n(y_id, head_dim, out_hid);
    }
  return out;
}

}  // namespace

QueryKey project_query_key(const MultiHeadAttention& layer, TensorView<const float> x,
                           const Context& ctx) {
  const MhaConfig& c = layer.config();
  const MhaWeights& w = layer.weights();
  const Index e = c.embed_dim, d = layer.head_dim(), kv_width = c.num_kv_heads * d;
  if (x.rank() != 2 || x.dim(1) != e)
    throw_invalid("x", "shape [L, " + std::to_string(e) + "]", shape_str(x.shape()));
  if (c.kdim != e || c.add_bias_kv || c.add_zero_attn)
    throw_invalid("layer",
                  "keys that are projections of the input (kdim = embed_dim, no add_bias_kv, "
                  "no add_zero_attn)",
                  "kdim " + std::to_string(c.kdim) + (c.add_bias_kv ? ", add_bias_kv" : "") +
                      (c.add_zero_attn ? ", add_zero_attn" : ""));
  // nn.MultiheadAttention packs the rows as Q (E), K (Hkv·D), V; separate weights are the same
  // blocks stored apart. The bias is packed the same way in both cases.
  const bool packed = w.in_proj_weight.defined();
  const TensorView<const float> w_q =
      packed ? TensorView<const float>{w.in_proj_weight.data(), {e, e}} : w.q_proj_weight.view();
  const TensorView<const float> w_k =
      packed ? TensorView<const float>{w.in_proj_weight.data() + e * e, {kv_width, e}}
             : w.k_proj_weight.view();
  TensorView<const float> b_q, b_k;
  if (w.in_proj_bias.defined()) {
    b_q = {w.in_proj_bias.data(), {e}};
    b_k = {w.in_proj_bias.data() + e, {kv_width}};
  }
  return {.queries = split_heads(project(x, w_q, b_q, ctx), c.num_heads, c.num_heads, d),
          .keys = split_heads(project(x, w_k, b_k, ctx), c.num_heads, c.num_kv_heads, d),
          .scale = 1.0 / std::sqrt(static_cast<double>(d))};
}

Tensor<> attention_scores(const QueryKey& qk) {
  const Index heads = qk.queries.dim(0), length = qk.queries.dim(1), d = qk.queries.dim(2);
  const Index keys = qk.keys.dim(1);
  Tensor<> scores({heads, length, keys});
  for (Index h = 0; h < heads; ++h)
    for (Index i = 0; i < length; ++i) {
      const float* q_hi = qk.queries.data() + (h * length + i) * d;
      float* scores_hi = scores.data() + (h * length + i) * keys;
      for (Index j = 0; j < keys; ++j) {
        const float* k_hj = qk.keys.data() + (h * keys + j) * d;
        double dot = 0;  // q_h,i · k_h,j
        for (Index c = 0; c < d; ++c) dot += double(q_hi[c]) * double(k_hj[c]);
        scores_hi[j] = static_cast<float>(qk.scale * dot);
      }
    }
  return scores;
}

}  // namespace mha::viz
