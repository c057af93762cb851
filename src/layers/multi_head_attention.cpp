// MultiHeadAttention::forward — project → attend → project, as in "Attention Is All You Need":
//   head_h = softmax(Q_h·K_hᵀ / sqrt(D) + mask) · V_h,   Q_h = X_q·W_Q,hᵀ + b_Q,h (likewise K, V)
//   output = concat(head_1 … head_H) · W_Oᵀ + b_O
// Heads are never transposed into place: projections write [B, L, H·D] rows and the kernel reads
// them as [B, H, L, D] through strides. The kernel writes each head's output over that head's
// queries (out(b, h, i, :) sits where q(b, h, i, :) did, which every kernel reads before it writes
// the row), so the concatenated [B, L, H·D] rows the output projection reads need no buffer of
// their own: at (1, 65536, 512, 8) that is 128 MiB less. The projections live in the workspace.
#include <cmath>

#include "layers/mask_views.hpp"
#include "layers/mha_views.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha {
namespace {

void check_input(TensorView<const float> x, const std::string& name, Index rank, Index width,
                 const std::string& width_name) {
  if (x.rank() != rank)
    throw_invalid(name, rank == 2 ? "a rank-2 (unbatched, like query) tensor"
                                  : "a rank-3 (batched, like query) tensor",
                  shape_str(x.shape()));
  if (x.dim(-1) != width)
    throw_invalid(name, "last dimension " + width_name + " = " + std::to_string(width),
                  shape_str(x.shape()));
  if (!x.defined() && x.numel() > 0) throw_invalid(name, "data", "a null pointer");
}

// Mean over heads: [B, H, L, S] → [B, L, S].
Tensor<> average_heads(const Tensor<>& per_head) {
  const Index batch = per_head.dim(0), heads = per_head.dim(1), len = per_head.dim(2),
              src = per_head.dim(3);
  Tensor<> avg({batch, len, src});
  for (Index b = 0; b < batch; ++b)
    for (Index i = 0; i < len; ++i)
      for (Index j = 0; j < src; ++j) {
        double sum = 0;
        for (Index h = 0; h < heads; ++h) sum += per_head(b, h, i, j);
        avg(b, i, j) = static_cast<float>(sum / static_cast<double>(heads));
      }
  return avg;
}

// A strided [B, H, N, D] heads view as a contiguous tensor; [H, N, D] for unbatched input.
Tensor<> copy_heads(TensorView<const float> heads, bool unbatched) {
  if (!unbatched) return Tensor<>::copy_of(heads);
  return Tensor<>::copy_of(TensorView<const float>(heads.data(),
                                                   {heads.dim(1), heads.dim(2), heads.dim(3)},
                                                   {heads.stride(1), heads.stride(2), heads.stride(3)}));
}

bool same_view(TensorView<const float> a, TensorView<const float> b) {
  return a.data() == b.data() && a.shape() == b.shape() && a.strides() == b.strides();
}

}  // namespace

MhaOutput MultiHeadAttention::forward(TensorView<const float> query, TensorView<const float> key,
                                      TensorView<const float> value, const MhaOptions& options,
                                      const Context& caller_ctx) const {
  const MhaConfig& c = config_;
  const MhaWeights& w = weights_;
  if (query.rank() != 2 && query.rank() != 3)
    throw_invalid("query", c.batch_first ? "shape (B, L, E) or unbatched (L, E)"
                                         : "shape (L, B, E) or unbatched (L, E)",
                  shape_str(query.shape()));
  const bool unbatched = query.rank() == 2;
  check_input(query, "query", query.rank(), c.embed_dim, "embed_dim");
  check_input(key, "key", query.rank(), c.kdim, "kdim");
  check_input(value, "value", query.rank(), c.vdim, "vdim");
  // key and value now have query's rank, so each reads as [B, L, width] the same way.
  const TensorView<const float> xq = mha_views::batch_first(query, c.batch_first);
  const TensorView<const float> xk = mha_views::batch_first(key, c.batch_first);
  const TensorView<const float> xv = mha_views::batch_first(value, c.batch_first);
  const Index batch = xq.dim(0), len = xq.dim(1), src_len = xk.dim(1);
  if (xk.dim(0) != batch)
    throw_invalid("key", "batch size " + std::to_string(batch) + " (from query)", shape_str(key.shape()));
  if (xv.dim(0) != batch || xv.dim(1) != src_len)
    throw_invalid("value", "batch size and length of key " + shape_str(key.shape()),
                  shape_str(value.shape()));
  if (options.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(options.window_left));

  const Index e = c.embed_dim, heads = c.num_heads, kv_heads = c.num_kv_heads, d = head_dim();
  const Index kv_width = kv_heads * d;
  const Index kv_len = src_len + (c.add_bias_kv ? 1 : 0) + (c.add_zero_attn ? 1 : 0);

  // 1. Projections. Self-attention with packed weights is one GEMM against all of in_proj_weight,
  //    [B, L, E + 2·Hkv·D]; otherwise Q, K and V are projected separately.
  // Everything below, the kernel included, runs with one workspace: the caller's or our own.
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  Workspace& workspace = *ctx.workspace;
  const TensorView<const float> in_w = w.in_proj_weight.view(), in_b = w.in_proj_bias.view();
  float* q_rows = nullptr;  // [B, L, ·] rows of q_pitch floats, Q in the first E of each
  Index q_pitch = e;
  TensorView<const float> k_heads, v_heads;
  const bool fused = w.in_proj_weight.defined() && kv_len == src_len && same_view(query, key) &&
                     same_view(key, value);
  if (fused) {
    q_pitch = e + 2 * kv_width;
    q_rows = workspace.get<float>(Workspace::Slot::projections, batch * len * q_pitch);
    linear({.x = xq, .weight = in_w, .bias = in_b, .y = TensorView<float>(q_rows, {batch, len, q_pitch})},
           ctx);
    k_heads = mha_views::heads<const float>(q_rows + e, batch, kv_heads, len, d, q_pitch);
    v_heads = mha_views::heads<const float>(q_rows + e + kv_width, batch, kv_heads, len, d, q_pitch);
  } else {
    const bool packed = w.in_proj_weight.defined();
    const auto wq = packed ? mha_views::rows(in_w, 0, e) : w.q_proj_weight.view();
    const auto wk = packed ? mha_views::rows(in_w, e, kv_width) : w.k_proj_weight.view();
    const auto wv = packed ? mha_views::rows(in_w, e + kv_width, kv_width) : w.v_proj_weight.view();
    q_rows = workspace.get<float>(Workspace::Slot::projections, batch * len * e);
    float* k_rows = workspace.get<float>(Workspace::Slot::projected_keys, batch * kv_len * kv_width);
    float* v_rows = workspace.get<float>(Workspace::Slot::projected_values, batch * kv_len * kv_width);
    const Shape kv_rows_strides = {kv_len * kv_width, kv_width, 1};
    linear({.x = xq, .weight = wq, .bias = mha_views::slice(in_b, 0, e),
            .y = TensorView<float>(q_rows, {batch, len, e})}, ctx);
    linear({.x = xk, .weight = wk, .bias = mha_views::slice(in_b, e, kv_width),
            .y = TensorView<float>(k_rows, {batch, src_len, kv_width}, kv_rows_strides)}, ctx);
    linear({.x = xv, .weight = wv, .bias = mha_views::slice(in_b, e + kv_width, kv_width),
            .y = TensorView<float>(v_rows, {batch, src_len, kv_width}, kv_rows_strides)}, ctx);
    // Positions past S: bias_k / bias_v at S when add_bias_kv, then zeros for add_zero_attn.
    for (Index b = 0; b < batch; ++b)
      for (Index j = src_len; j < kv_len; ++j)
        for (Index x = 0; x < kv_width; ++x) {
          const bool bias_row = c.add_bias_kv && j == src_len;
          k_rows[(b * kv_len + j) * kv_width + x] = bias_row ? w.bias_k(0, 0, x) : 0.0f;
          v_rows[(b * kv_len + j) * kv_width + x] = bias_row ? w.bias_v(0, 0, x) : 0.0f;
        }
    k_heads = mha_views::heads<const float>(k_rows, batch, kv_heads, kv_len, d, kv_width);
    v_heads = mha_views::heads<const float>(v_rows, batch, kv_heads, kv_len, d, kv_width);
  }

  // 2. Attention over every head, written over the queries: the concatenated [B, L, H·D] rows.
  AttentionParams params;
  params.scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));
  params.alignment = options.causal_alignment;
  MaskStorage storage;
  const MaskPlan plan{batch, heads, len, src_len, kv_len, unbatched};
  if (options.key_padding_mask) params.masks.push_back(kernel_key_padding(*options.key_padding_mask, plan, storage));
  if (options.attn_mask) params.masks.push_back(kernel_attn_mask(*options.attn_mask, plan, storage));
  if (kv_len > src_len && (options.is_causal || options.window_left >= 0)) {
    params.masks.push_back(causal_mask_with_appended_keys(
        options.is_causal, options.causal_alignment, options.window_left, plan, storage));
  } else {
    params.causal = options.is_causal;
    params.window_left = options.window_left;
  }
  Tensor<> per_head = options.need_weights ? Tensor<>({batch, heads, len, kv_len}) : Tensor<>();
  const TensorView<float> q_and_out = mha_views::heads<float>(q_rows, batch, heads, len, d, q_pitch);
  MhaOutput result;
  if (options.need_query_key) {  // before the kernel writes the heads over the queries
    result.queries = copy_heads(q_and_out, unbatched);
    result.keys = copy_heads(k_heads, unbatched);
  }
  attention({.q = q_and_out,
             .k = k_heads,
             .v = v_heads,
             .out = q_and_out,
             .weights = options.need_weights ? per_head.view() : TensorView<float>{},
             .lse = {},
             .params = std::move(params)},
            ctx);

  // 3. Output projection, written in the caller's layout.
  result.output = unbatched ? Tensor<>({len, e})
                  : c.batch_first  ? Tensor<>({batch, len, e})
                                   : Tensor<>({len, batch, e});
  const TensorView<const float> concat(q_rows, {batch, len, e}, {len * q_pitch, q_pitch, 1});
  linear({.x = concat, .weight = w.out_proj_weight.view(), .bias = w.out_proj_bias.view(),
          .y = mha_views::batch_first(result.output.view(), c.batch_first)},
         ctx);

  if (options.need_weights) {
    result.weights = options.average_attn_weights ? average_heads(per_head) : std::move(per_head);
    if (unbatched) {  // drop the batch dimension of 1
      Shape shape(result.weights.shape().begin() + 1, result.weights.shape().end());
      result.weights = Tensor<>::copy_of(result.weights.view_as(shape));
    }
  }
  return result;
}

}  // namespace mha
