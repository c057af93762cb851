// Reference attention of new query rows over a KvCache (contract: mha/kernels/cached_attention.hpp).
//
//   q: [B, Hq, n, D]   cache keys [B, Hkv, S_max, D], values [B, Hkv, S_max, Dv]   out: [B, Hq, n, Dv]
//
// For row i < c_b of head h in sequence b, pos = length(b) − c_b + i, g = h / (Hq / Hkv):
//   s_j = scale · Σ_x q[b,h,i,x] · k[b,g,j,x]       j ∈ [0, length(b)), allowed
//   out = Σ_j exp(s_j − m) · v[b,g,j,:] / Σ_j exp(s_j − m),  lse = m + log Σ_j exp(s_j − m)
// Only the allowed keys are read, so whatever sits in other rows never reaches the output.
#include "kernels/reference/cached_attention_reference.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace mha {

void cached_attention_reference(const CachedAttentionArgs& a) {
  const KvCache& cache = *a.cache;
  const Index batch = a.q.dim(0), heads = a.q.dim(1), n = a.q.dim(2), d = a.q.dim(3);
  const Index group = heads / cache.kv_heads(), dv = cache.value_dim();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<double> scores, acc(static_cast<std::size_t>(dv));
  for (Index b = 0; b < batch; ++b) {
    const Index length = cache.length(b);
    const Index count = a.counts.empty() ? n : a.counts[static_cast<std::size_t>(b)];
    for (Index h = 0; h < heads; ++h) {
      const Index g = h / group;
      for (Index i = 0; i < n; ++i) {
        const Index pos = length - count + i;
        const Index lo = a.window_left >= 0 ? std::max<Index>(0, pos - a.window_left) : 0;
        const Index hi = a.causal ? std::min(length, pos + 1) : length;
        const bool padding = i >= count;
        scores.clear();
        double top = -std::numeric_limits<double>::infinity();
        for (Index j = lo; !padding && j < hi; ++j) {
          double dot = 0;
          for (Index x = 0; x < d; ++x)
            dot += static_cast<double>(a.q(b, h, i, x)) * static_cast<double>(cache.key(b, g, j, x));
          scores.push_back(a.scale * dot);
          top = std::max(top, scores.back());
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double total = 0;
        for (Index j = lo; j < lo + static_cast<Index>(scores.size()); ++j) {
          const double p = std::exp(scores[static_cast<std::size_t>(j - lo)] - top);
          total += p;
          for (Index c = 0; c < dv; ++c)
            acc[static_cast<std::size_t>(c)] += p * static_cast<double>(cache.value(b, g, j, c));
        }
        const bool none = scores.empty();
        for (Index c = 0; c < dv; ++c)
          a.out(b, h, i, c) = none ? 0.0f : static_cast<float>(acc[static_cast<std::size_t>(c)] / total);
        if (a.lse.defined()) a.lse(b, h, i) = none ? neg_inf : static_cast<float>(top + std::log(total));
      }
    }
  }
}

}  // namespace mha
