// MultiHeadAttention::forward — project → attend → project out, as in "Attention Is All You Need":
//   head_h = softmax(Q_h·K_hᵀ / sqrt(D) + mask) · V_h,   Q_h = X_q·W_Q,hᵀ + b_Q,h (likewise K, V)
//   output = concat(head_1 … head_H) · W_Oᵀ + b_O
// One code path for inference and training; a tape (training) changes where things are kept:
//
//   inference: projections in the workspace, self-attention with packed weights as one QKV GEMM;
//     the kernel writes the heads into dense [B, L, H·D] rows in the workspace, which the output
//     projection reads (oneDNN runs brgemm on rows E floats apart and gemm:jit on the QKV rows,
//     3·E apart: 1.5 % of the (1, 2048, 512, 8) and (8, 512, 512, 8) forwards, paired runs).
//     Past kMaxDenseHeadsBytes the heads are written over their queries instead (out(b, h, i, :)
//     sits where q(b, h, i, :) did, which every kernel reads before it writes the row), so very
//     long sequences need no buffer of their own: at (1, 65536, 512, 8) that is 128 MiB less.
//   training: the inputs, Q, K, V (three GEMMs), the heads' outputs and the row log-sum-exp are
//     kept in the tape, masks are copied so the tape outlives them, and attention dropout applies.
//
// Heads are never transposed into place: projections write [B, L, H·D] rows and the kernel reads
// them as [B, H, L, D] through strides.
#include <cmath>
#include <memory>

#include "layers/mask_views.hpp"
#include "layers/mha_views.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"

namespace mha {
namespace {

// The largest dense heads buffer the inference forward keeps in the workspace (the top of the
// file says why; the same bound as the fused kernel's packed values).
constexpr Index kMaxDenseHeadsBytes = Index{64} << 20;

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

// The call's sizes, after the inputs were checked against the config.
struct Sizes {
  Index batch, len, src_len, kv_len;  // B, L, S, S' = S + add_bias_kv + add_zero_attn
  Index e, heads, kv_heads, d, kv_width;
  bool unbatched;
  TensorView<const float> xq, xk, xv;  // the inputs read as [B, L, ·]
};

Sizes check_call(const MultiHeadAttention& layer, TensorView<const float> query,
                 TensorView<const float> key, TensorView<const float> value,
                 const MhaOptions& options) {
  const MhaConfig& c = layer.config();
  if (query.rank() != 2 && query.rank() != 3)
    throw_invalid("query", c.batch_first ? "shape (B, L, E) or unbatched (L, E)"
                                         : "shape (L, B, E) or unbatched (L, E)",
                  shape_str(query.shape()));
  check_input(query, "query", query.rank(), c.embed_dim, "embed_dim");
  check_input(key, "key", query.rank(), c.kdim, "kdim");
  check_input(value, "value", query.rank(), c.vdim, "vdim");
  // key and value now have query's rank, so each reads as [B, L, width] the same way.
  Sizes s{};
  s.unbatched = query.rank() == 2;
  s.xq = mha_views::batch_first(query, c.batch_first);
  s.xk = mha_views::batch_first(key, c.batch_first);
  s.xv = mha_views::batch_first(value, c.batch_first);
  s.batch = s.xq.dim(0);
  s.len = s.xq.dim(1);
  s.src_len = s.xk.dim(1);
  if (s.xk.dim(0) != s.batch)
    throw_invalid("key", "batch size " + std::to_string(s.batch) + " (from query)", shape_str(key.shape()));
  if (s.xv.dim(0) != s.batch || s.xv.dim(1) != s.src_len)
    throw_invalid("value", "batch size and length of key " + shape_str(key.shape()),
                  shape_str(value.shape()));
  if (options.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(options.window_left));
  s.e = c.embed_dim;
  s.heads = c.num_heads;
  s.kv_heads = c.num_kv_heads;
  s.d = layer.head_dim();
  s.kv_width = s.kv_heads * s.d;
  s.kv_len = s.src_len + (c.add_bias_kv ? 1 : 0) + (c.add_zero_attn ? 1 : 0);
  return s;
}

// Where the projections went: q rows of q_pitch floats (Q in the first E of each), K and V heads.
struct Projected {
  float* q_rows = nullptr;
  Index q_pitch = 0;
  TensorView<const float> k_heads, v_heads;
};

// 1. Projections. Self-attention with packed weights (and no tape) is one GEMM against all of
//    in_proj_weight, [B, L, E + 2·Hkv·D]; otherwise Q, K and V are projected separately, into the
//    tape when there is one, and K, V get the bias_kv row and the zero_attn row past S.
Projected project_qkv(const MultiHeadAttention& layer, const Sizes& s, TensorView<const float> query,
                      TensorView<const float> key, TensorView<const float> value, MhaTape* tape,
                      const Context& ctx) {
  const MhaConfig& c = layer.config();
  const MhaWeights& w = layer.weights();
  Workspace& workspace = *ctx.workspace;
  const TensorView<const float> in_w = w.in_proj_weight.view(), in_b = w.in_proj_bias.view();
  const Index e = s.e, kv_width = s.kv_width, kv_len = s.kv_len;
  Projected p;
  const bool fused = !tape && w.in_proj_weight.defined() && kv_len == s.src_len &&
                     same_view(query, key) && same_view(key, value);
  if (fused) {
    p.q_pitch = e + 2 * kv_width;
    p.q_rows = workspace.get<float>(Workspace::Slot::projections, s.batch * s.len * p.q_pitch);
    linear({.x = s.xq, .weight = in_w, .bias = in_b,
            .y = TensorView<float>(p.q_rows, {s.batch, s.len, p.q_pitch})},
           ctx);
    p.k_heads = mha_views::heads<const float>(p.q_rows + e, s.batch, s.kv_heads, s.len, s.d, p.q_pitch);
    p.v_heads = mha_views::heads<const float>(p.q_rows + e + kv_width, s.batch, s.kv_heads, s.len,
                                              s.d, p.q_pitch);
    return p;
  }
  const ProjectionRows<const float> wq = projection_rows(w, c, Projection::query),
                                    wk = projection_rows(w, c, Projection::key),
                                    wv = projection_rows(w, c, Projection::value);
  float *k_rows = nullptr, *v_rows = nullptr;
  TensorView<const float> xq = s.xq, xk = s.xk, xv = s.xv;
  if (tape) {
    tape->query = Tensor<>::copy_of(s.xq);
    tape->key = Tensor<>::copy_of(s.xk);
    tape->value = Tensor<>::copy_of(s.xv);
    xq = tape->query.view();
    xk = tape->key.view();
    xv = tape->value.view();
    tape->q = Tensor<>({s.batch, s.len, e});
    tape->k = Tensor<>({s.batch, kv_len, kv_width});
    tape->v = Tensor<>({s.batch, kv_len, kv_width});
    p.q_rows = tape->q.data();
    k_rows = tape->k.data();
    v_rows = tape->v.data();
  } else {
    p.q_rows = workspace.get<float>(Workspace::Slot::projections, s.batch * s.len * e);
    k_rows = workspace.get<float>(Workspace::Slot::projected_keys, s.batch * kv_len * kv_width);
    v_rows = workspace.get<float>(Workspace::Slot::projected_values, s.batch * kv_len * kv_width);
  }
  p.q_pitch = e;
  const Shape kv_rows_strides = {kv_len * kv_width, kv_width, 1};
  linear({.x = xq, .weight = wq.weight, .bias = wq.bias,
          .y = TensorView<float>(p.q_rows, {s.batch, s.len, e})}, ctx);
  linear({.x = xk, .weight = wk.weight, .bias = wk.bias,
          .y = TensorView<float>(k_rows, {s.batch, s.src_len, kv_width}, kv_rows_strides)}, ctx);
  linear({.x = xv, .weight = wv.weight, .bias = wv.bias,
          .y = TensorView<float>(v_rows, {s.batch, s.src_len, kv_width}, kv_rows_strides)}, ctx);
  // Positions past S: bias_k / bias_v at S when add_bias_kv, then zeros for add_zero_attn.
  for (Index b = 0; b < s.batch; ++b)
    for (Index j = s.src_len; j < kv_len; ++j)
      for (Index x = 0; x < kv_width; ++x) {
        const bool bias_row = c.add_bias_kv && j == s.src_len;
        k_rows[(b * kv_len + j) * kv_width + x] = bias_row ? w.bias_k(0, 0, x) : 0.0f;
        v_rows[(b * kv_len + j) * kv_width + x] = bias_row ? w.bias_v(0, 0, x) : 0.0f;
      }
  p.k_heads = mha_views::heads<const float>(k_rows, s.batch, s.kv_heads, kv_len, s.d, kv_width);
  p.v_heads = mha_views::heads<const float>(v_rows, s.batch, s.kv_heads, kv_len, s.d, kv_width);
  return p;
}

// The kernel's parameters: scale, causality or window, and the caller's masks as [B, H, L, S']
// views (read from `storage` where they had to be built or, for a tape, copied).
AttentionParams attention_params(const MhaOptions& options, const Sizes& s, bool copy_masks,
                                 MaskStorage& storage) {
  AttentionParams params;
  params.scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(s.d)));
  params.alignment = options.causal_alignment;
  const MaskPlan plan{s.batch, s.heads, s.len, s.src_len, s.kv_len, s.unbatched, copy_masks};
  if (options.key_padding_mask) params.masks.push_back(kernel_key_padding(*options.key_padding_mask, plan, storage));
  if (options.attn_mask) params.masks.push_back(kernel_attn_mask(*options.attn_mask, plan, storage));
  if (s.kv_len > s.src_len && (options.is_causal || options.window_left >= 0)) {
    params.masks.push_back(causal_mask_with_appended_keys(
        options.is_causal, options.causal_alignment, options.window_left, plan, storage));
  } else {
    params.causal = options.is_causal;
    params.window_left = options.window_left;
  }
  return params;
}

}  // namespace

MhaOutput MultiHeadAttention::forward(TensorView<const float> query, TensorView<const float> key,
                                      TensorView<const float> value, const MhaOptions& options,
                                      const Context& caller_ctx, MhaTape* tape,
                                      const AttentionDropout& dropout) const {
  const MhaConfig& c = config_;
  const Sizes s = check_call(*this, query, key, value, options);
  if (tape && options.need_weights)
    throw_invalid("need_weights", "false (training never stores the probabilities)", "true");
  if (caller_ctx.sequence_parallel != nullptr && (c.add_bias_kv || c.add_zero_attn))
    throw_invalid(c.add_bias_kv ? "add_bias_kv" : "add_zero_attn",
                  "false under sequence parallelism (every rank would append its own copy of the key)",
                  "true");
  if (!tape && dropout.rate != 0)
    throw_invalid("dropout", "rate 0 without a tape (dropout is for training)",
                  std::to_string(dropout.rate));
  // Everything below, the kernel included, runs with one workspace: the caller's or our own.
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);

  // 1. Project.
  const Projected p = project_qkv(*this, s, query, key, value, tape, ctx);
  const TensorView<float> q_heads = mha_views::heads<float>(p.q_rows, s.batch, s.heads, s.len, s.d, p.q_pitch);
  MhaOutput result;
  if (options.need_query_key) {  // before the kernel writes the heads over the queries
    result.queries = copy_heads(q_heads, s.unbatched);
    result.keys = copy_heads(p.k_heads, s.unbatched);
  }

  // 2. Attend, over every head, into the concatenated [B, L, H·D] rows: dense rows in the
  //    workspace (over the queries for very long sequences), or the tape's own buffer with the
  //    row log-sum-exp and dropout.
  float* concat_rows = p.q_rows;
  Index concat_pitch = p.q_pitch;
  if (tape) {
    auto storage = std::make_shared<MaskStorage>();
    tape->params = attention_params(options, s, /*copy_masks=*/true, *storage);
    tape->mask_storage = std::move(storage);
    tape->dropout = dropout;
    tape->concat = Tensor<>({s.batch, s.len, s.e});
    tape->lse = Tensor<>({s.batch, s.heads, s.len});
    concat_rows = tape->concat.data();
    concat_pitch = s.e;
    attention_for_training({.q = q_heads,
                            .k = p.k_heads,
                            .v = p.v_heads,
                            .out = mha_views::heads<float>(concat_rows, s.batch, s.heads, s.len, s.d, s.e),
                            .weights = {},
                            .lse = tape->lse.view(),
                            .params = tape->params},
                           dropout, ctx);
  } else {
    MaskStorage storage;
    if (s.batch * s.len * s.e * Index{sizeof(float)} <= kMaxDenseHeadsBytes) {
      concat_rows = ctx.workspace->get<float>(Workspace::Slot::dense_heads, s.batch * s.len * s.e);
      concat_pitch = s.e;
    }
    Tensor<> per_head = options.need_weights ? Tensor<>({s.batch, s.heads, s.len, s.kv_len}) : Tensor<>();
    attention({.q = q_heads,
               .k = p.k_heads,
               .v = p.v_heads,
               .out = mha_views::heads<float>(concat_rows, s.batch, s.heads, s.len, s.d, concat_pitch),
               .weights = options.need_weights ? per_head.view() : TensorView<float>{},
               .lse = {},
               .params = attention_params(options, s, /*copy_masks=*/false, storage)},
              ctx);
    if (options.need_weights) {
      result.weights = options.average_attn_weights ? average_heads(per_head) : std::move(per_head);
      if (s.unbatched) {  // drop the batch dimension of 1
        Shape shape(result.weights.shape().begin() + 1, result.weights.shape().end());
        result.weights = Tensor<>::copy_of(result.weights.view_as(shape));
      }
    }
  }

  // 3. Project out, written in the caller's layout.
  result.output = s.unbatched ? Tensor<>({s.len, s.e})
                  : c.batch_first ? Tensor<>({s.batch, s.len, s.e})
                                  : Tensor<>({s.len, s.batch, s.e});
  const TensorView<const float> concat(concat_rows, {s.batch, s.len, s.e},
                                       {s.len * concat_pitch, concat_pitch, 1});
  linear({.x = concat, .weight = weights_.out_proj_weight.view(), .bias = weights_.out_proj_bias.view(),
          .y = mha_views::batch_first(result.output.view(), c.batch_first)},
         ctx);
  if (tape) {
    tape->query_shape = query.shape();
    tape->key_shape = key.shape();
    tape->value_shape = value.shape();
    tape->output_shape = result.output.shape();
    tape->batch_first = c.batch_first;
  }
  return result;
}

AttentionDispatch MultiHeadAttention::explain_dispatch(TensorView<const float> query,
                                                       TensorView<const float> key,
                                                       TensorView<const float> value,
                                                       const MhaOptions& options,
                                                       const Context& caller_ctx) const {
  const Sizes s = check_call(*this, query, key, value, options);
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  const Projected p = project_qkv(*this, s, query, key, value, /*tape=*/nullptr, ctx);
  const TensorView<float> q_heads = mha_views::heads<float>(p.q_rows, s.batch, s.heads, s.len, s.d, p.q_pitch);
  MaskStorage storage;
  return explain_attention_dispatch(
      {.q = q_heads, .k = p.k_heads, .v = p.v_heads, .out = q_heads, .weights = {}, .lse = {},
       .params = attention_params(options, s, /*copy_masks=*/false, storage)},
      ctx);
}

}  // namespace mha
