// The backward pass of the attention core, and the attention dropout it must undo.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   lse: [B, Hq, Lq]
//   grad_out: [B, Hq, Lq, Dv]  →  grad_q: [B, Hq, Lq, D]   grad_k: [B, Hkv, Lk, D]
//                                 grad_v: [B, Hkv, Lk, Dv]
//
// Nothing N×N is stored between forward and backward: the probabilities are recomputed from
// the forward's row log-sum-exp, p_ij = exp(s_ij − lse_i) for every allowed key j (s_ij and
// "allowed" exactly as in mha/kernels/attention.hpp). With the dropout factor z_ij (1 without
// dropout, keep_ij / (1 − rate) with it) the forward is out_i = Σ_j p_ij z_ij v_j, and
//   dV_j  = Σ_i p_ij z_ij dO_i
//   dP_ij = z_ij · dO_i·v_j,      D_i = Σ_j p_ij dP_ij   (= dO_i·out_i)
//   dS_ij = p_ij (dP_ij − D_i)
//   dQ_i  = scale Σ_j dS_ij k_j,  dK_j = scale Σ_i dS_ij q_i
// Fully masked rows (lse_i = −∞) contribute nothing, keys that are not allowed get no gradient
// from that row, and under GQA dK / dV sum over the Hq / Hkv query heads sharing kv head g.
// The gradient views are overwritten, never accumulated into.
#pragma once

#include <cstdint>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention.hpp"

namespace mha {

// Dropout on the attention probabilities. Whether p_ij survives is a pure function of
// (seed, b, h, i, j) — a counter-based hash, not a random stream — so the backward pass
// recomputes the forward's mask exactly, whatever the thread count or loop order.
struct AttentionDropout {
  double rate = 0.0;  // probability of dropping p_ij, in [0, 1)
  std::uint64_t seed = 0;
};

// True when dropout keeps p_ij of batch b, query head h, query row i and key j.
bool dropout_keeps(const AttentionDropout& dropout, Index b, Index h, Index i, Index j);

// The forward pass for training: out_i = Σ_j p_ij z_ij v_j and lse (required) as in
// mha::attention; `weights` (if defined) receives p before dropout. Without dropout this is
// mha::attention; with it, every kernel kind runs the float64 reference (no fast path yet).
void attention_for_training(const AttentionArgs& args, const AttentionDropout& dropout,
                            const Context& ctx = {});

struct AttentionBackwardArgs {
  TensorView<const float> q, k, v;
  TensorView<const float> lse;       // from the forward pass
  TensorView<const float> grad_out;  // dL/d out
  // Optional: the forward's out. When given, D_i = dO_i·out_i is read from it (FlashAttention-2's
  // preprocessing step); otherwise the cpu kernel recomputes D_i = Σ_j p_ij dP_ij, one more pass
  // over the scores (two of the five products again). Same [B, Hq, Lq, Dv] shape as grad_out.
  TensorView<const float> out;
  TensorView<float> grad_q, grad_k, grad_v;
  AttentionParams params;    // the forward's masks, causality, window and scale
  AttentionDropout dropout;  // the forward's dropout (rate 0: none)
};

// Validates the shapes (mha::Error naming the view) and runs ctx.kernel's backward: the float64
// reference, or the cpu kind's tiled SIMD kernel (FlashAttention-2's backward, recomputing p from
// lse; kernels/cpu/attention_backward_cpu.cpp). The cpu kernel is bit-identical across repeated
// calls with the same thread count; grad_q's sums are split by thread, so other thread counts
// agree to rounding (docs/numerics.md).
void attention_backward(const AttentionBackwardArgs& args, const Context& ctx = {});

}  // namespace mha
