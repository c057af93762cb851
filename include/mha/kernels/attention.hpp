// The attention-core kernel contract, shared by every backend (reference, cpu, later cuda).
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
//   weights (optional): [B, Hq, Lq, Lk]      lse (optional): [B, Hq, Lq]
//
// For each batch b, query head h (kv head g = h / (Hq / Hkv), grouped-query attention) and
// query row i:
//   s_ij = scale · q_i · k_j + Σ additive masks_ij       for every key j that is allowed
//   p_ij = exp(s_ij − m_i) / Σ_j exp(s_ij − m_i)          m_i = max_j s_ij
//   out_i = Σ_j p_ij · v_j,   lse_i = m_i + log Σ_j exp(s_ij − m_i)
// A key j is allowed unless a block mask says so, a keep mask does not, an additive mask is −∞,
// or causality / the sliding window exclude it. Keys that are not allowed are skipped, never
// multiplied by 0, so NaN or Inf in their k or v cannot reach the output. A row with no allowed
// key ("fully masked") gives out_i = 0, p_i· = 0 and lse_i = −∞, as FlashAttention does.
//
// Kernels take views and allocate nothing they could be handed. All views may have any strides;
// masks broadcast through stride 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

enum class MaskKind : std::uint8_t {
  block,     // flags: nonzero = this key may NOT be attended (PyTorch nn.MultiheadAttention)
  keep,      // flags: nonzero = this key MAY be attended (PyTorch scaled_dot_product_attention)
  additive,  // values are added to the scaled scores; −∞ blocks
};

// A mask whose polarity is part of its kind. Its shape depends on where it is used: the kernel
// takes [B, Hq, Lq, Lk] views (stride 0 for broadcast dimensions); the layers take PyTorch's
// shapes and build those views.
struct Mask {
  MaskKind kind = MaskKind::block;
  TensorView<const std::uint8_t> flags;  // for block / keep
  TensorView<const float> values;        // for additive
  const Shape& shape() const { return kind == MaskKind::additive ? values.shape() : flags.shape(); }
};

inline Mask block_mask(TensorView<const std::uint8_t> flags) { return {MaskKind::block, flags, {}}; }
inline Mask keep_mask(TensorView<const std::uint8_t> flags) { return {MaskKind::keep, flags, {}}; }
inline Mask additive_mask(TensorView<const float> values) { return {MaskKind::additive, {}, values}; }
// Adapters for PyTorch's two conventions for boolean masks:
// nn.MultiheadAttention's attn_mask / key_padding_mask: True = blocked.
inline Mask from_torch_mha_mask(TensorView<const std::uint8_t> flags) { return block_mask(flags); }
// F.scaled_dot_product_attention's attn_mask: True = may attend.
inline Mask from_torch_sdpa_mask(TensorView<const std::uint8_t> flags) { return keep_mask(flags); }

// Where query row i sits among the keys when Lq != Lk.
enum class Alignment : std::uint8_t {
  top_left,      // query i is at key position i (PyTorch's torch.triu causal mask)
  bottom_right,  // query i is at key position i + Lk − Lq (FlashAttention, decoding with a cache)
};

struct AttentionParams {
  double scale = 1.0;           // usually 1/sqrt(D)
  bool causal = false;          // key j allowed only if j <= pos(i)
  Index window_left = -1;       // sliding window: key j allowed only if j >= pos(i) − window_left; −1 = unlimited
  Alignment alignment = Alignment::top_left;
  std::vector<Mask> masks;     // all terms apply (a key must pass every one)
};

struct AttentionArgs {
  TensorView<const float> q, k, v;
  // May be q itself (same data and strides, Dv = D): every kernel reads a query row in full
  // before it writes that row's output, so a caller can write heads over dead queries. No other
  // overlap of out with an input is allowed.
  TensorView<float> out;
  TensorView<float> weights;  // optional: filled with p when defined
  TensorView<float> lse;      // optional: filled with the row log-sum-exp when defined
  AttentionParams params;
};

std::string_view kernel_name(KernelKind kind);
// Parses "ref" / "reference" / "cpu"; throws mha::Error naming `argument` otherwise.
KernelKind parse_kernel(std::string_view text, std::string_view argument = "kernel");

// Validates the shapes (mha::Error naming the view on mismatch) and runs the chosen kernel.
// This is the single dispatch point of mha: ctx.kernel picks the backend.
void attention(const AttentionArgs& args, const Context& ctx = {});

// What mha::attention would run for these arguments and context, and why (`mha bench
// --explain-dispatch` prints it). Validates like mha::attention; runs nothing.
struct AttentionDispatch {
  std::string kernel;  // "reference", "cpu" or "sequence-parallel"
  std::string path;    // the cpu kernel's "fused" or "unfused" path; else as kernel
  std::string reason;  // one sentence
};
AttentionDispatch explain_attention_dispatch(const AttentionArgs& args, const Context& ctx = {});

}  // namespace mha
