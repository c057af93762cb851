// The SIMD core of the online softmax (mha/kernels/online_softmax.hpp): attend rows of queries
// over a run of keys, updating each row's (max2, sum, acc) state. Per-target code (Highway
// foreach_target): the public fp32 function (online_softmax.cpp) and the decode kernel
// (cached_attention_simd.cpp) both instantiate it, the decode kernel with bf16 / f16 keys and
// values widened to fp32 in registers (PromoteTo), so the bytes a step reads stay halved.
//
//   q rows: [R, D] fp32   k: [n, D] of T   v: [n, Dv] of T   state: max2 [R], sum [R], acc [R, Dv]
//
// Rows go in groups of up to kGroupRows; for each block of up to kBlockKeys keys of the group's
// range:
//   1. s_rj = q_r · k_j        every key row loaded (and widened) once for the whole group
//   2. x_rj = scale·log2e·s_rj, −∞ outside row r's [lo_r, hi_r) (replaced, so NaN keys stay out)
//      m' = max(max2, max_j x_rj), α = 2^(max2 − m'), p_rj = 2^(x_rj − m') (exp2_nonpositive)
//      sum ← α·sum + Σ_j p_rj,   acc ← α·acc
//   3. acc_r += Σ_j p_rj · v_j over j ∈ [lo_r, hi_r) only: masked keys are skipped, not weighted
//      by 0. When the group's rows share one range (a decode step: the query heads of one kv
//      head), each value row is loaded once for all of them.
//
// kExactTails: a row's last partial vector (D or Dv not a multiple of the lanes) is read and
// written element by element, for caller memory that ends there. Without it, whole vectors are
// read past the end (the cache and the kernel's scratch leave room) with the extra lanes zeroed
// before use, and acc rows must be padded to whole vectors.
#if defined(MHA_KERNELS_CPU_ONLINE_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_KERNELS_CPU_ONLINE_SOFTMAX_INL_H_
#undef MHA_KERNELS_CPU_ONLINE_SOFTMAX_INL_H_
#else
#define MHA_KERNELS_CPU_ONLINE_SOFTMAX_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "hwy/highway.h"
#include "kernels/cpu/exp2-inl.h"
#include "kernels/cpu/online_softmax_rows.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace online {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Keys per block: a group's scores (4 × 64 floats, 1 KiB) live on the stack, and a block of
// keys and values (2 × 64 rows × 256 B at D = 64, fp32) stays in L1 between the passes.
inline constexpr Index kBlockKeys = 64;
// Query rows scored together: 4 accumulators + 1 key vector + 4 query loads fit AVX2's 16
// registers, and each key row is read once per 4 rows.
inline constexpr Index kGroupRows = 4;
// Enough lanes for every target (AVX-512: 16 floats).
inline constexpr Index kMaxFloatLanes = 16;

using cpu::KeyRows;
using Rows = cpu::QueryRows;
template <class T>
using Keys = KeyRows<T>;

// A row number of a group as an index.
HWY_INLINE Index row(std::size_t r) { return static_cast<Index>(r); }

HWY_INLINE Index lanes() { return static_cast<Index>(hn::Lanes(DF())); }

// One vector of T at p, widened to fp32.
template <class T>
HWY_INLINE VF load_wide(DF df, const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return hn::LoadU(df, p);
  } else {
    const hn::Rebind<T, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, p));
  }
}

// The first `count` (< lanes) elements at p widened, the other lanes 0.
template <bool kExactTails, class T>
HWY_INLINE VF load_wide_part(DF df, const T* p, Index count) {
  if constexpr (kExactTails) {
    T buffer[kMaxFloatLanes] = {};
    std::copy(p, p + count, buffer);
    return load_wide(df, buffer);
  } else {
    return hn::IfThenElseZero(hn::FirstN(df, static_cast<std::size_t>(count)), load_wide(df, p));
  }
}

// out[0..3] = the lane sums of a, b, c, d. One transposing tree instead of four reductions:
// sums of lane pairs within each 128-bit block (interleave as floats, then as 64-bit pairs) leave
// (Σa, Σb, Σc, Σd) per block; the blocks are then added: 6 shuffles and 5 adds on AVX2 for four
// sums, where four SumOfLanes take 4 × (3 shuffles + 3 adds) and the D = 64 dot products they
// finish are only 8 FMAs each.
HWY_INLINE void sum_lanes4(DF df, VF a, VF b, VF c, VF d, float* out0, float* out1, float* out2,
                           float* out3) {
#if HWY_TARGET == HWY_SCALAR
  *out0 = hn::GetLane(a);
  *out1 = hn::GetLane(b);
  *out2 = hn::GetLane(c);
  *out3 = hn::GetLane(d);
  (void)df;
#else
  const hn::Repartition<double, DF> dd;
  const VF ab = hn::Add(hn::InterleaveLower(df, a, b), hn::InterleaveUpper(df, a, b));
  const VF cd = hn::Add(hn::InterleaveLower(df, c, d), hn::InterleaveUpper(df, c, d));
  const auto ab2 = hn::BitCast(dd, ab), cd2 = hn::BitCast(dd, cd);
  const VF sums = hn::Add(hn::BitCast(df, hn::InterleaveLower(dd, ab2, cd2)),
                          hn::BitCast(df, hn::InterleaveUpper(dd, ab2, cd2)));
  alignas(64) float lanes_out[kMaxFloatLanes];
  hn::Store(sums, df, lanes_out);
  float total[4] = {lanes_out[0], lanes_out[1], lanes_out[2], lanes_out[3]};
  for (Index block = 4; block < lanes(); block += 4)
    for (Index x = 0; x < 4; ++x) total[x] += lanes_out[block + x];
  *out0 = total[0];
  *out1 = total[1];
  *out2 = total[2];
  *out3 = total[3];
#endif
}

// s[r·kBlockKeys + j] = q_r · k_j for r < NR, j < nb.
template <std::size_t NR, bool kExactTails, class T>
HWY_INLINE void score_group(const float* const* q, const T* k, Index k_row, Index nb, Index d,
                            float* s) {
  const DF df;
  const Index n = lanes();
  const Index d_full = d / n * n;
  VF q_tail[NR];
  for (std::size_t r = 0; r < NR; ++r)
    q_tail[r] = d_full < d ? load_wide_part<kExactTails>(df, q[r] + d_full, d - d_full) : hn::Zero(df);
  Index j = 0;
  if constexpr (NR == 1) {
    // One row (Hq = Hkv): four keys at a time, four independent FMA chains and one reduction tree.
    for (; j + 4 <= nb; j += 4) {
      const T* k_j = k + j * k_row;
      VF acc[4] = {hn::Zero(df), hn::Zero(df), hn::Zero(df), hn::Zero(df)};
      for (Index x = 0; x < d_full; x += n) {
        const VF qx = hn::LoadU(df, q[0] + x);
        for (Index t = 0; t < 4; ++t) acc[t] = hn::MulAdd(qx, load_wide(df, k_j + t * k_row + x), acc[t]);
      }
      if (d_full < d)
        for (Index t = 0; t < 4; ++t)
          acc[t] = hn::MulAdd(q_tail[0], load_wide_part<kExactTails>(df, k_j + t * k_row + d_full, d - d_full), acc[t]);
      sum_lanes4(df, acc[0], acc[1], acc[2], acc[3], s + j, s + j + 1, s + j + 2, s + j + 3);
    }
  }
  for (; j < nb; ++j) {
    const T* k_j = k + j * k_row;
    VF acc[NR];
    for (std::size_t r = 0; r < NR; ++r) acc[r] = hn::Zero(df);
    for (Index x = 0; x < d_full; x += n) {
      const VF kx = load_wide(df, k_j + x);
      for (std::size_t r = 0; r < NR; ++r) acc[r] = hn::MulAdd(hn::LoadU(df, q[r] + x), kx, acc[r]);
    }
    if (d_full < d) {
      const VF kx = load_wide_part<kExactTails>(df, k_j + d_full, d - d_full);
      for (std::size_t r = 0; r < NR; ++r) acc[r] = hn::MulAdd(q_tail[r], kx, acc[r]);
    }
    if constexpr (NR == 4) {
      sum_lanes4(df, acc[0], acc[1], acc[2], acc[3], s + j, s + kBlockKeys + j, s + 2 * kBlockKeys + j,
                 s + 3 * kBlockKeys + j);
    } else {
      for (std::size_t r = 0; r < NR; ++r) s[row(r) * kBlockKeys + j] = hn::GetLane(hn::SumOfLanes(df, acc[r]));
    }
  }
}

// Step 2 for one row: scores s[0, nb) become p over [a, b) (0 elsewhere); updates max2 and sum.
// Returns α, the factor acc must be scaled by, or a negative number when the block changes
// nothing (every visible logit −∞).
HWY_INLINE float softmax_block(float* s, Index nb, Index a, Index b, float scale_log2e, float& max2,
                               float& sum) {
  const DF df;
  const Index n = lanes();
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  const VF vscale = hn::Set(df, scale_log2e);
  const VF va = hn::Set(df, static_cast<float>(a)), vb = hn::Set(df, static_cast<float>(b));
  VF vmax = neg_inf;
  for (Index c = 0; c < nb; c += n) {
    const VF pos = hn::Iota(df, static_cast<float>(c));
    const VF x = hn::IfThenElse(hn::And(hn::Ge(pos, va), hn::Lt(pos, vb)),
                                hn::Mul(hn::LoadU(df, s + c), vscale), neg_inf);
    hn::StoreU(x, df, s + c);
    vmax = hn::Max(vmax, x);
  }
  const float m_new = std::max(max2, hn::GetLane(hn::MaxOfLanes(df, vmax)));
  if (m_new == -std::numeric_limits<float>::infinity()) return -1.0f;
  const VF vm = hn::Set(df, m_new);
  VF vsum = hn::Zero(df);
  for (Index c = 0; c < nb; c += n) {
    const VF p = exp2_nonpositive(df, hn::Sub(hn::LoadU(df, s + c), vm));
    hn::StoreU(p, df, s + c);
    vsum = hn::Add(vsum, p);
  }
  const float alpha = std::exp2(max2 - m_new);  // 0 on a row's first block (max2 = −∞)
  sum = alpha * sum + hn::GetLane(hn::SumOfLanes(df, vsum));
  max2 = m_new;
  return alpha;
}

template <bool kExactTails>
HWY_INLINE void scale_acc(float* acc, Index dv, float alpha) {
  const DF df;
  const Index n = lanes();
  const VF f = hn::Set(df, alpha);
  Index c = 0;
  for (; c + n <= dv; c += n) hn::StoreU(hn::Mul(hn::LoadU(df, acc + c), f), df, acc + c);
  if (c == dv) return;
  if constexpr (kExactTails) {
    for (; c < dv; ++c) acc[c] *= alpha;
  } else {
    hn::StoreU(hn::Mul(hn::LoadU(df, acc + c), f), df, acc + c);
  }
}

// Step 3: acc[r][:] += Σ_{a≤j<b} p[r·kBlockKeys + j] · v_j[:] for r < NR. Value columns in
// chunks of two vectors: 2·NR accumulators stay in registers across the keys, and each loaded
// (widened) value vector serves all NR rows.
template <std::size_t NR, bool kExactTails, class T>
HWY_INLINE void accumulate_values(const float* p, Index a, Index b, const T* v, Index v_row,
                                  Index dv, float* const* acc) {
  const DF df;
  const Index n = lanes();
  Index c = 0;
  for (; c + 2 * n <= dv; c += 2 * n) {
    VF o0[NR], o1[NR];
    for (std::size_t r = 0; r < NR; ++r) {
      o0[r] = hn::LoadU(df, acc[r] + c);
      o1[r] = hn::LoadU(df, acc[r] + c + n);
    }
    for (Index j = a; j < b; ++j) {
      const VF v0 = load_wide(df, v + j * v_row + c), v1 = load_wide(df, v + j * v_row + c + n);
      for (std::size_t r = 0; r < NR; ++r) {
        const VF pr = hn::Set(df, p[row(r) * kBlockKeys + j]);
        o0[r] = hn::MulAdd(pr, v0, o0[r]);
        o1[r] = hn::MulAdd(pr, v1, o1[r]);
      }
    }
    for (std::size_t r = 0; r < NR; ++r) {
      hn::StoreU(o0[r], df, acc[r] + c);
      hn::StoreU(o1[r], df, acc[r] + c + n);
    }
  }
  for (; c < dv; c += n) {  // at most two vectors left, the last maybe partial
    const Index width = std::min(n, dv - c);
    float part[NR][static_cast<std::size_t>(kMaxFloatLanes)];
    VF o[NR];
    for (std::size_t r = 0; r < NR; ++r) {
      if (kExactTails && width < n) {
        std::fill(part[r], part[r] + n, 0.0f);
        std::copy(acc[r] + c, acc[r] + c + width, part[r]);
        o[r] = hn::LoadU(df, part[r]);
      } else {
        o[r] = hn::LoadU(df, acc[r] + c);
      }
    }
    for (Index j = a; j < b; ++j) {
      const VF vj = width < n ? load_wide_part<kExactTails>(df, v + j * v_row + c, width)
                              : load_wide(df, v + j * v_row + c);
      for (std::size_t r = 0; r < NR; ++r) o[r] = hn::MulAdd(hn::Set(df, p[row(r) * kBlockKeys + j]), vj, o[r]);
    }
    for (std::size_t r = 0; r < NR; ++r) {
      if (kExactTails && width < n) {
        hn::StoreU(o[r], df, part[r]);
        std::copy(part[r], part[r] + width, acc[r] + c);
      } else {
        hn::StoreU(o[r], df, acc[r] + c);
      }
    }
  }
}

template <std::size_t NR, bool kExactTails, class T>
void attend_group(const Rows& rows, Index r0, const Keys<T>& keys, float scale_log2e) {
  const float* q[NR];
  float* acc[NR];
  Index lo[NR], hi[NR];
  Index group_lo = keys.count, group_hi = 0;
  bool same_range = true;
  for (std::size_t r = 0; r < NR; ++r) {
    const Index row = r0 + online::row(r);
    q[r] = rows.q + row * rows.q_row;
    acc[r] = rows.acc + row * rows.acc_row;
    lo[r] = rows.lo != nullptr ? std::max<Index>(rows.lo[row], 0) : 0;
    hi[r] = rows.hi != nullptr ? std::min(rows.hi[row], keys.count) : keys.count;
    if (hi[r] > lo[r]) {
      group_lo = std::min(group_lo, lo[r]);
      group_hi = std::max(group_hi, hi[r]);
    }
    same_range = same_range && lo[r] == lo[0] && hi[r] == hi[0];
  }
  alignas(64) float s[NR * static_cast<std::size_t>(kBlockKeys)] = {};
  for (Index j0 = group_lo; j0 < group_hi; j0 += kBlockKeys) {
    const Index nb = std::min(kBlockKeys, group_hi - j0);
    score_group<NR, kExactTails>(q, keys.k + j0 * keys.k_row, keys.k_row, nb, keys.d, s);
    Index a[NR], b[NR];
    bool all_live = true;
    for (std::size_t r = 0; r < NR; ++r) {
      a[r] = std::clamp<Index>(lo[r] - j0, 0, nb);
      b[r] = std::clamp<Index>(hi[r] - j0, 0, nb);
      float alpha = -1.0f;
      if (a[r] < b[r])
        alpha = softmax_block(s + row(r) * kBlockKeys, nb, a[r], b[r], scale_log2e, rows.max2[r0 + row(r)],
                              rows.sum[r0 + row(r)]);
      if (alpha < 0.0f) {
        a[r] = b[r] = 0;  // nothing of this block reaches the row
        all_live = false;
      } else if (alpha != 1.0f) {
        scale_acc<kExactTails>(acc[r], keys.dv, alpha);
      }
    }
    const T* v = keys.v + j0 * keys.v_row;
    if (same_range && all_live) {
      accumulate_values<NR, kExactTails>(s, a[0], b[0], v, keys.v_row, keys.dv, acc);
    } else {
      for (std::size_t r = 0; r < NR; ++r)
        if (a[r] < b[r])
          accumulate_values<1, kExactTails>(s + row(r) * kBlockKeys, a[r], b[r], v, keys.v_row, keys.dv,
                                            &acc[r]);
    }
  }
}

// Every row of `rows` attends the keys of `keys` (steps 1–3 above).
template <bool kExactTails, class T>
void attend_rows(const Rows& rows, const Keys<T>& keys, float scale_log2e) {
  for (Index r0 = 0; r0 < rows.count; r0 += kGroupRows) {
    switch (std::min<Index>(kGroupRows, rows.count - r0)) {
      case 4: attend_group<4, kExactTails>(rows, r0, keys, scale_log2e); break;
      case 3: attend_group<3, kExactTails>(rows, r0, keys, scale_log2e); break;
      case 2: attend_group<2, kExactTails>(rows, r0, keys, scale_log2e); break;
      default: attend_group<1, kExactTails>(rows, r0, keys, scale_log2e); break;
    }
  }
}

}  // namespace online
}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // MHA_KERNELS_CPU_ONLINE_SOFTMAX_INL_H_ toggle
