// Which keys a query row may attend to, and the additive mask terms of its scores, as the
// attention contract (mha/kernels/attention.hpp) defines them. Shared by the forward and backward
// references and the dropout forward, so all of them see exactly the same keys.
#pragma once

#include <limits>

#include "mha/kernels/attention.hpp"

namespace mha::reference {

// Position of query row i on the key axis (see Alignment).
inline Index query_position(const AttentionParams& p, Index i, Index lq, Index lk) {
  return p.alignment == Alignment::top_left ? i : i + lk - lq;
}

// Is key j visible from query i (at key position pos)? Adds the additive mask terms to `score`.
inline bool key_allowed(const AttentionParams& p, Index b, Index h, Index i, Index j, Index pos,
                        double& score) {
  if (p.causal && j > pos) return false;
  if (p.window_left >= 0 && j < pos - p.window_left) return false;
  for (const Mask& m : p.masks) {
    switch (m.kind) {
      case MaskKind::block:
        if (m.flags(b, h, i, j) != 0) return false;
        break;
      case MaskKind::keep:
        if (m.flags(b, h, i, j) == 0) return false;
        break;
      case MaskKind::additive: {
        const double add = m.values(b, h, i, j);
        if (add == -std::numeric_limits<double>::infinity()) return false;
        score += add;
        break;
      }
    }
  }
  return true;
}

}  // namespace mha::reference
