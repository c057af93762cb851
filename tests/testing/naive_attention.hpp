// A deliberately plain attention for tests, written apart from the reference kernel: masks come in
// as callbacks, the softmax runs over the list of allowed keys only, and everything is float64.
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   (contiguous)
//   out: [B, Hq, Lq, Dv]   weights: [B, Hq, Lq, Lk]   lse: [B, Hq, Lq]
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::testing {

struct NaiveResult {
  Tensor<> out, weights, lse;
};

// allowed(b, h, i, j): may query i of head h see key j. bias(b, h, i, j): added to the score.
using KeyPredicate = std::function<bool(Index, Index, Index, Index)>;
using KeyBias = std::function<double(Index, Index, Index, Index)>;

inline NaiveResult naive_attention(const Tensor<>& q, const Tensor<>& k, const Tensor<>& v,
                                   double scale, const KeyPredicate& allowed = {},
                                   const KeyBias& bias = {}) {
  const Index batch = q.dim(0), heads = q.dim(1), lq = q.dim(2), d = q.dim(3);
  const Index kv_heads = k.dim(1), lk = k.dim(2), dv = v.dim(3);
  NaiveResult r{Tensor<>({batch, heads, lq, dv}), Tensor<>({batch, heads, lq, lk}),
                Tensor<>({batch, heads, lq})};
  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h) {
      const Index g = h * kv_heads / heads;  // heads h·Hkv/Hq … share kv head g
      for (Index i = 0; i < lq; ++i) {
        std::vector<Index> keys;
        std::vector<double> logits;
        for (Index j = 0; j < lk; ++j) {
          if (allowed && !allowed(b, h, i, j)) continue;
          double s = 0;
          for (Index c = 0; c < d; ++c) s += double{q(b, h, i, c)} * double{k(b, g, j, c)};
          s *= scale;
          if (bias) s += bias(b, h, i, j);
          if (s == -std::numeric_limits<double>::infinity()) continue;
          keys.push_back(j);
          logits.push_back(s);
        }
        if (keys.empty()) {
          r.lse(b, h, i) = -std::numeric_limits<float>::infinity();
          continue;  // out and weights stay 0
        }
        double top = logits[0];
        for (const double s : logits) top = std::max(top, s);
        double total = 0;
        for (const double s : logits) total += std::exp(s - top);
        std::vector<double> acc(static_cast<std::size_t>(dv), 0.0);
        for (std::size_t n = 0; n < keys.size(); ++n) {
          const double p = std::exp(logits[n] - top) / total;
          r.weights(b, h, i, keys[n]) = static_cast<float>(p);
          for (Index c = 0; c < dv; ++c) acc[static_cast<std::size_t>(c)] += p * v(b, g, keys[n], c);
        }
        for (Index c = 0; c < dv; ++c) r.out(b, h, i, c) = static_cast<float>(acc[static_cast<std::size_t>(c)]);
        r.lse(b, h, i) = static_cast<float>(top + std::log(total));
      }
    }
  return r;
}

}  // namespace mha::testing
