// The rule between the fused and the unfused attention paths (attention_path.hpp).
//
// The unfused path stores G·Lq·Lk scores per (batch, kv head) and passes over them three times;
// the fused one never stores them but pays per tile: packing Kᵀ and the query rows, the online
// rescaling and each tile's set-up and epilogue, and its products run below oneDNN's. Short key
// rows favour the first, long ones the second. Causality and the window tip the balance: the
// fused kernel skips the tiles no row sees, the unfused one computes every score.
//
// Crossover, mha_bench BM_CorePath (H = 8, D = 64, 2 threads, AMD EPYC Zen 5, AVX3; medians of
// 5 interleaved at random; fused / unfused ms; measured again after the fused kernel's score
// loop began keeping row maxima, 2026-12-07, which moved it down from 768 and 128–192):
//   dense   N = 256: B=1 0.535 / 0.484, B=8 4.54 / 4.68     N = 384: 1.06 / 1.03, 9.37 / 10.2
//           N = 512: B=1 1.89 / 2.04,   B=8 15.9 / 17.9
//   causal  N = 32:  B=1 0.032 / 0.035, B=8 0.190 / 0.145   N = 64: 0.063 / 0.061, 0.395 / 0.399
//           N = 128: B=1 0.132 / 0.156, B=8 0.985 / 1.25
// Between the limits below and the next size the batch decides (B = 1 and B = 8 disagree by
// 3–10 % at dense 256 and 384 and causal 32); the limits keep the larger loss on the side of
// the batch that loses less.
#include "kernels/cpu/attention_path.hpp"

#include "kernels/cpu/attention_sizes.hpp"
#include "kernels/cpu/attention_unfused.hpp"
#include "kernels/cpu/finite_rows.hpp"

namespace mha::cpu {
namespace {

// Keys per row up to which the unfused path is chosen (measured: see the top of the file):
// without causality or a window, and with either.
constexpr Index kUnfusedMaxKeys = 256;
constexpr Index kUnfusedMaxKeysSkipping = 64;

template <class T>
bool features_contiguous(const TensorView<T>& t) {
  for (Index i = 0; i < t.rank(); ++i)
    if (t.dim(i) > 1 && t.stride(i) <= 0) return false;
  return t.dim(3) <= 1 || t.stride(3) == 1;
}

}  // namespace

std::string unfused_attention_blocker(const AttentionArgs& a) {
  if (a.k.dim(2) == 0 || a.q.dim(3) == 0 || a.v.dim(3) == 0)
    return "an empty key, feature or value dimension (oneDNN takes no empty products)";
  if (!features_contiguous(a.q) || !features_contiguous(a.k) || !features_contiguous(a.v) ||
      !features_contiguous(a.out))
    return "q, k, v or out is not laid out with positive strides and unit stride along its "
           "features";
  const AttentionSizes n = AttentionSizes::of(a.q, a.k, a.v);
  if (n.group * n.lq * score_pitch(n.lk) * Index{sizeof(float)} > kMaxScoreBytes)
    return "the scores of one (batch, kv head), " + std::to_string(n.group * n.lq) + "×" +
           std::to_string(n.lk) + " floats, pass the unfused path's " +
           std::to_string(kMaxScoreBytes >> 20) + " MiB";
  if (!values_all_finite(a.v))
    return "v holds NaN or Inf: the fused kernel skips blocked keys, where a product would "
           "multiply them by p = 0";
  return {};
}

PathChoice choose_attention_path(const AttentionArgs& a, const Context& ctx, bool explain) {
  const auto say = [explain](auto&& make) { return explain ? std::string(make()) : std::string(); };
  if (ctx.attention_path == AttentionPath::fused)
    return {AttentionPath::fused, say([] { return "forced by the context"; })};
  const bool forced = ctx.attention_path == AttentionPath::unfused;
  const Index lq = a.q.dim(2), lk = a.k.dim(2);
  const bool skipping = a.params.causal || a.params.window_left >= 0;
  const Index max_keys = skipping ? kUnfusedMaxKeysSkipping : kUnfusedMaxKeys;
  const auto measured = [&] {
    return "Lk = " + std::to_string(lk) + (lk > max_keys ? " > " : " ≤ ") +
           std::to_string(max_keys) + (skipping ? " with causality or a window" : "") + ": ";
  };
  const auto scores = [&] { return std::to_string(lq) + "×" + std::to_string(lk) + " scores per head"; };
  if (!forced && lk > max_keys)
    return {AttentionPath::fused, say([&] {
              return measured() + "streaming key tiles" +
                     (skipping ? ", skipping those no row sees," : "") + " beats storing " + scores();
            })};
  if (std::string blocker = unfused_attention_blocker(a); !blocker.empty())
    return {AttentionPath::fused, explain ? std::move(blocker) : std::string()};
  if (forced) return {AttentionPath::unfused, say([] { return "forced by the context"; })};
  return {AttentionPath::unfused, say([&] {
            return measured() + "oneDNN's products and one softmax pass beat the fused kernel's " +
                   "per-tile work, with " + scores() + " stored";
          })};
}

}  // namespace mha::cpu
