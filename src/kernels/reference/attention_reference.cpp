// Reference attention: float64 accumulation, plain loops, one numbered step per line of the math.
// Never optimise this file; it is the oracle.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
#include "kernels/reference/attention_reference.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/reference/key_visibility.hpp"

namespace mha {

void attention_reference(const AttentionArgs& a) {
  const AttentionParams& p = a.params;
  const Index batch = a.q.dim(0), heads = a.q.dim(1), lq = a.q.dim(2), d = a.q.dim(3);
  const Index group = heads / a.k.dim(1), lk = a.k.dim(2), dv = a.v.dim(3);
  std::vector<double> score(static_cast<std::size_t>(lk));
  std::vector<bool> allowed(static_cast<std::size_t>(lk));

  for (Index b = 0; b < batch; ++b) {
    for (Index h = 0; h < heads; ++h) {
      const Index g = h / group;  // the kv head this query head shares (GQA)
      for (Index i = 0; i < lq; ++i) {
        const Index pos = reference::query_position(p, i, lq, lk);
        // Step 1: s_ij = scale · Σ_d q_id k_jd + additive masks, for allowed keys; m_i = max_j s_ij.
        double row_max = -std::numeric_limits<double>::infinity();
        bool any_allowed = false;
        for (Index j = 0; j < lk; ++j) {
          double dot = 0.0;
          for (Index c = 0; c < d; ++c)
            dot += static_cast<double>(a.q(b, h, i, c)) * static_cast<double>(a.k(b, g, j, c));
          double s = p.scale * dot;
          const bool ok = reference::key_allowed(p, b, h, i, j, pos, s);
          allowed[static_cast<std::size_t>(j)] = ok;
          score[static_cast<std::size_t>(j)] = s;
          if (ok) {
            any_allowed = true;
            row_max = std::max(row_max, s);
          }
        }
        // A fully masked row: output 0, weights 0, lse −∞ (never NaN).
        if (!any_allowed) {
          for (Index c = 0; c < dv; ++c) a.out(b, h, i, c) = 0.0f;
          if (a.weights.defined())
            for (Index j = 0; j < lk; ++j) a.weights(b, h, i, j) = 0.0f;
          if (a.lse.defined()) a.lse(b, h, i) = -std::numeric_limits<float>::infinity();
          continue;
        }
        // Step 2: l_i = Σ_j exp(s_ij − m_i) over allowed keys.
        double row_sum = 0.0;
        for (Index j = 0; j < lk; ++j)
          if (allowed[static_cast<std::size_t>(j)])
            row_sum += std::exp(score[static_cast<std::size_t>(j)] - row_max);
        // Step 3: p_ij = exp(s_ij − m_i) / l_i; masked keys get exactly 0.
        for (Index j = 0; j < lk; ++j) {
          const auto sj = static_cast<std::size_t>(j);
          score[sj] = allowed[sj] ? std::exp(score[sj] - row_max) / row_sum : 0.0;
          if (a.weights.defined()) a.weights(b, h, i, j) = static_cast<float>(score[sj]);
        }
        // Step 4: out_i = Σ_j p_ij v_j, skipping masked keys so their v never enters.
        for (Index c = 0; c < dv; ++c) {
          double acc = 0.0;
          for (Index j = 0; j < lk; ++j)
            if (allowed[static_cast<std::size_t>(j)])
              acc += score[static_cast<std::size_t>(j)] * static_cast<double>(a.v(b, g, j, c));
          a.out(b, h, i, c) = static_cast<float>(acc);
        }
        if (a.lse.defined()) a.lse(b, h, i) = static_cast<float>(row_max + std::log(row_sum));
      }
    }
  }
}

}  // namespace mha
