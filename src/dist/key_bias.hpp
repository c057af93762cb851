// Masks under sequence parallelism: only masks that depend on the key alone (key padding) can
// travel with the keys, so each is folded into one additive bias per (sequence, key):
//   block flag set → −∞,   keep flag clear → −∞,   additive → its value;   summed over the masks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mha/kernels/attention.hpp"

namespace mha::dist {

// The bias [B, nk] of `masks` over the kernel's [B, Hq, nq, nk] mask shape, or nullopt when there
// are no masks. Sets `problem` (and returns nullopt) for a mask that varies along heads or query
// rows.
std::optional<std::vector<float>> key_bias(const std::vector<Mask>& masks, Index batch, Index keys,
                                           std::string& problem);

}  // namespace mha::dist
