// The scalar parts of the online softmax: merging two states and finishing one. Both are O(R·Dv)
// per block of keys (the attend step is O(R·n·(D + Dv))), so they stay plain loops.
#include "kernels/cpu/online_softmax_rows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace mha::cpu {

void merge_state_rows(const StateRows& into, const StateRows& from, Index count, Index dv) {
  for (Index r = 0; r < count; ++r) {
    const float m_a = into.max2[r], m_b = from.max2[r];
    const float m = std::max(m_a, m_b);
    if (m == -std::numeric_limits<float>::infinity()) continue;  // neither saw a key
    const float alpha = std::exp2(m_a - m), beta = std::exp2(m_b - m);  // 2^−∞ = 0
    into.sum[r] = alpha * into.sum[r] + beta * from.sum[r];
    float* acc_a = into.acc + r * into.acc_row;
    const float* acc_b = from.acc + r * from.acc_row;
    if (beta == 0.0f) {  // b adds nothing; skipping also keeps a NaN-free a from 0·NaN
      if (alpha != 1.0f) for (Index c = 0; c < dv; ++c) acc_a[c] *= alpha;
    } else if (alpha == 0.0f) {
      for (Index c = 0; c < dv; ++c) acc_a[c] = beta * acc_b[c];
    } else {
      for (Index c = 0; c < dv; ++c) acc_a[c] = alpha * acc_a[c] + beta * acc_b[c];
    }
    into.max2[r] = m;
  }
}

void finish_state_row(float max2, float sum, const float* acc, Index dv, float* out, Index out_step,
                      float* lse) {
  const bool none = max2 == -std::numeric_limits<float>::infinity();
  for (Index c = 0; c < dv; ++c) out[c * out_step] = none ? 0.0f : acc[c] / sum;
  if (lse != nullptr)
    *lse = none ? -std::numeric_limits<float>::infinity()
                : static_cast<float>(std::numbers::ln2 * (static_cast<double>(max2) +
                                                          std::log2(static_cast<double>(sum))));
}

}  // namespace mha::cpu
