// The rule between the fused and the unfused attention paths (attention_path.hpp).
//
// The unfused path stores G·Lq·Lk scores per (batch, kv head) and passes over them three times;
// the fused one never stores them but pays per tile: packing Kᵀ and the query rows, the online
// rescaling and each tile's set-up and epilogue, and its products run below oneDNN's. Short key
// rows favour the first, long ones the second. Causality and the window tip the balance: the
// fused kernel skips the tiles no row sees, the unfused one computes every score.
//
// Crossover, mha_bench BM_CorePath (H = 8, D = 64, 2 threads, AMD EPYC Zen 5, AVX3; medians of
// 3; fused / unfused ms):
//   dense   N = 128: B=1 0.189 / 0.142, B=8 1.48 / 1.04     N = 512: 1.99 / 1.86, 16.4 / 15.1
//           N = 768: B=1 4.07 / 4.08,   B=8 34.2 / 34.3     N = 1024: 7.12 / 8.03, 58.5 / 62.9
//   causal  N = 128: B=1 0.153 / 0.144, B=8 1.22 / 1.08     N = 192: 0.279 / 0.295, 2.11 / 2.18
#include "kernels/cpu/attention_path.hpp"

#include "kernels/cpu/attention_sizes.hpp"
#include "kernels/cpu/attention_unfused.hpp"
#include "kernels/cpu/finite_rows.hpp"

namespace mha::cpu {
namespace {

// Keys per row up to which the unfused path is chosen (measured: see the top of the file):
// without causality or a window, and with either.
constexpr Index kUnfusedMaxKeys = 512;
constexpr Index kUnfusedMaxKeysSkipping = 128;

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
