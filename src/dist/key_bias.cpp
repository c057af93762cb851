// Key-only masks folded into one additive bias per key (rule in dist/key_bias.hpp).
#include "dist/key_bias.hpp"

#include <limits>

namespace mha::dist {

std::optional<std::vector<float>> key_bias(const std::vector<Mask>& masks, Index batch, Index keys,
                                           std::string& problem) {
  if (masks.empty()) return std::nullopt;
  const float minus_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> bias(static_cast<std::size_t>(batch * keys), 0.0f);
  for (const Mask& mask : masks) {
    const Shape& shape = mask.shape();
    const Shape& strides = mask.kind == MaskKind::additive ? mask.values.strides() : mask.flags.strides();
    // Heads (dim 1) and query rows (dim 2) must broadcast: stride 0, or a single entry.
    for (const Index dim : {Index{1}, Index{2}})
      if (strides[static_cast<std::size_t>(dim)] != 0 && shape[static_cast<std::size_t>(dim)] > 1) {
        problem = "masks: only masks that depend on the key alone (key padding) can be split across "
                  "ranks; this one varies along " + std::string(dim == 1 ? "heads" : "query rows");
        return std::nullopt;
      }
    for (Index b = 0; b < batch; ++b)
      for (Index j = 0; j < keys; ++j) {
        float& x = bias[static_cast<std::size_t>(b * keys + j)];
        switch (mask.kind) {
          case MaskKind::block: if (mask.flags(b, 0, 0, j) != 0) x = minus_inf; break;
          case MaskKind::keep: if (mask.flags(b, 0, 0, j) == 0) x = minus_inf; break;
          case MaskKind::additive: x += mask.values(b, 0, 0, j); break;
        }
      }
  }
  return bias;
}

}  // namespace mha::dist
