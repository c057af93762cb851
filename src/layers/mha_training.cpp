// forward_for_training: MultiHeadAttention::forward's three steps (project → attend → project)
// with attention dropout, keeping the inputs, the projections, the head outputs and the
// log-sum-exp for the backward pass (src/layers/multi_head_attention_backward.cpp).
//
// The kernel masks are built as in MultiHeadAttention::forward, but from copies of the caller's
// masks, so the saved params stay valid after the caller's masks are gone.
#include <cmath>
#include <memory>
#include <string>

#include "layers/mask_views.hpp"
#include "layers/mha_views.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"

namespace mha {
namespace {

using mha_views::batch_first;
using mha_views::heads;
using mha_views::rows;
using mha_views::slice;

void check_input(TensorView<const float> x, const std::string& name, Index rank, Index width) {
  if (x.rank() != rank)
    throw_invalid(name, "rank " + std::to_string(rank) + " (like query)", shape_str(x.shape()));
  if (x.dim(-1) != width)
    throw_invalid(name, "last dimension " + std::to_string(width), shape_str(x.shape()));
}

}  // namespace

MhaSaved forward_for_training(const MultiHeadAttention& layer, TensorView<const float> query,
                              TensorView<const float> key, TensorView<const float> value,
                              const MhaOptions& options, const AttentionDropout& dropout,
                              const Context& ctx) {
  const MhaConfig& c = layer.config();
  const MhaWeights& w = layer.weights();
  if (options.need_weights)
    throw_invalid("need_weights", "false (training never stores the probabilities)", "true");
  if (query.rank() != 2 && query.rank() != 3)
    throw_invalid("query", "rank 3, or rank 2 unbatched", shape_str(query.shape()));
  check_input(query, "query", query.rank(), c.embed_dim);
  check_input(key, "key", query.rank(), c.kdim);
  check_input(value, "value", query.rank(), c.vdim);

  MhaSaved s;
  s.query_shape = query.shape();
  s.key_shape = key.shape();
  s.value_shape = value.shape();
  s.batch_first = c.batch_first;
  s.dropout = dropout;
  s.query = Tensor<>::copy_of(batch_first(query, c.batch_first));
  s.key = Tensor<>::copy_of(batch_first(key, c.batch_first));
  s.value = Tensor<>::copy_of(batch_first(value, c.batch_first));
  const Index batch = s.query.dim(0), len = s.query.dim(1), src_len = s.key.dim(1);
  if (s.key.dim(0) != batch || s.value.dim(0) != batch || s.value.dim(1) != src_len)
    throw_invalid("key, value", "the batch of query and one length",
                  shape_str(key.shape()) + ", " + shape_str(value.shape()));
  if (options.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(options.window_left));

  const Index e = c.embed_dim, h = c.num_heads, d = layer.head_dim(), kv_width = c.num_kv_heads * d;
  const Index kv_len = src_len + (c.add_bias_kv ? 1 : 0) + (c.add_zero_attn ? 1 : 0);

  // 1. Projections: q = X_q·W_Qᵀ + b_Q, likewise k and v into the first S of S' rows; row S is
  //    bias_k / bias_v with add_bias_kv, and the zero_attn row stays 0.
  const bool packed = w.in_proj_weight.defined();
  const TensorView<const float> in_w = w.in_proj_weight.view(), in_b = w.in_proj_bias.view();
  s.q = Tensor<>({batch, len, e});
  s.k = Tensor<>({batch, kv_len, kv_width});
  s.v = Tensor<>({batch, kv_len, kv_width});
  const Shape kv_strides = {kv_len * kv_width, kv_width, 1};
  linear({.x = s.query.view(),
          .weight = packed ? rows(in_w, 0, e) : w.q_proj_weight.view(),
          .bias = slice(in_b, 0, e),
          .y = s.q.view()},
         ctx);
  linear({.x = s.key.view(),
          .weight = packed ? rows(in_w, e, kv_width) : w.k_proj_weight.view(),
          .bias = slice(in_b, e, kv_width),
          .y = TensorView<float>(s.k.data(), {batch, src_len, kv_width}, kv_strides)},
         ctx);
  linear({.x = s.value.view(),
          .weight = packed ? rows(in_w, e + kv_width, kv_width) : w.v_proj_weight.view(),
          .bias = slice(in_b, e + kv_width, kv_width),
          .y = TensorView<float>(s.v.data(), {batch, src_len, kv_width}, kv_strides)},
         ctx);
  if (c.add_bias_kv)
    for (Index b = 0; b < batch; ++b)
      for (Index x = 0; x < kv_width; ++x) {
        s.k(b, src_len, x) = w.bias_k(0, 0, x);
        s.v(b, src_len, x) = w.bias_v(0, 0, x);
      }

  // 2. Attention (with dropout) over every head, into the concatenated [B, L, H·D] layout.
  auto storage = std::make_shared<MaskStorage>();
  AttentionParams& params = s.params;
  params.scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));
  params.alignment = options.causal_alignment;
  const MaskPlan plan{batch, h, len, src_len, kv_len, query.rank() == 2, /*copy_masks=*/true};
  if (options.key_padding_mask)
    params.masks.push_back(kernel_key_padding(*options.key_padding_mask, plan, *storage));
  if (options.attn_mask)
    params.masks.push_back(kernel_attn_mask(*options.attn_mask, plan, *storage));
  if (kv_len > src_len && (options.is_causal || options.window_left >= 0)) {
    params.masks.push_back(causal_mask_with_appended_keys(
        options.is_causal, options.causal_alignment, options.window_left, plan, *storage));
  } else {
    params.causal = options.is_causal;
    params.window_left = options.window_left;
  }
  s.mask_storage = std::move(storage);
  s.concat = Tensor<>({batch, len, e});
  s.lse = Tensor<>({batch, h, len});
  attention_for_training(
      {.q = heads<const float>(s.q.data(), batch, h, len, d, e),
       .k = heads<const float>(s.k.data(), batch, c.num_kv_heads, kv_len, d, kv_width),
       .v = heads<const float>(s.v.data(), batch, c.num_kv_heads, kv_len, d, kv_width),
       .out = heads<float>(s.concat.data(), batch, h, len, d, e),
       .weights = {},
       .lse = s.lse.view(),
       .params = params},
      dropout, ctx);

  // 3. Output projection, written in the caller's layout.
  s.output = Tensor<>(query.rank() == 2 ? Shape{len, e}
                      : c.batch_first   ? Shape{batch, len, e}
                                        : Shape{len, batch, e});
  linear({.x = s.concat.view(),
          .weight = w.out_proj_weight.view(),
          .bias = w.out_proj_bias.view(),
          .y = batch_first(s.output.view(), c.batch_first)},
         ctx);
  return s;
}

}  // namespace mha
