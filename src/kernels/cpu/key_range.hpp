// Which keys a query row may see once causality and the sliding window are applied: one rule for
// the fast kernels' tile loops (the masks are applied separately, per element).
#pragma once

#include "mha/kernels/attention.hpp"

namespace mha::cpu {

// Keys [lo, hi) of a row (hi may be ≤ lo: none).
struct KeyRange {
  Index lo, hi;
};

struct KeyVisibility {
  Index lk = 0;
  Index pos_offset = 0;  // pos(i) = i + pos_offset (0 top-left, Lk − Lq bottom-right)
  bool causal = false;
  Index window_left = -1;

  static KeyVisibility of(const AttentionParams& params, Index lq, Index lk) {
    return {lk, params.alignment == Alignment::bottom_right ? lk - lq : 0, params.causal,
            params.window_left};
  }

  // Causal: j ≤ pos(i); window: j ≥ pos(i) − window_left.
  KeyRange keys(Index i) const {
    const Index pos = i + pos_offset;
    const Index lo = window_left >= 0 ? pos - window_left : 0;
    const Index hi = causal ? pos + 1 : lk;
    return {lo < 0 ? 0 : lo, hi > lk ? lk : hi};
  }

  // Row i's keys as columns of the tile that starts at key j0: lo clamped to [0, cols), hi to
  // [0, width) (the tile's real keys; columns past width are padding).
  KeyRange in_tile(Index i, Index j0, Index width, Index cols) const {
    const KeyRange k = keys(i);
    const auto clamp = [](Index x, Index top) { return x < 0 ? 0 : (x > top ? top : x); };
    return {clamp(k.lo - j0, cols), clamp(k.hi - j0, width)};
  }

  // Query rows [lo, hi) of [0, lq) that see at least one key of [j0, j1): the inverse of keys(),
  // as both of its bounds grow with i.
  KeyRange rows_seeing(Index j0, Index j1, Index lq) const {
    Index lo = causal ? j0 - pos_offset : 0;
    Index hi = window_left >= 0 ? j1 - 1 + window_left - pos_offset + 1 : lq;
    lo = lo < 0 ? 0 : lo;
    hi = hi > lq ? lq : hi;
    return {lo, hi};
  }
};

}  // namespace mha::cpu
