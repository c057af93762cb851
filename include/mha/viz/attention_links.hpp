// The strongest link of each query row of an attention table: which key it attends to most.
//
//   weights: [L, S]  →  L links (query i, key argmax_j p_ij, weight max_j p_ij)
#pragma once

#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::viz {

struct AttentionLink {
  Index query = 0;
  Index key = 0;
  float weight = 0.0F;
};

// One link per row; on ties the earliest key wins. A fully masked row (all zeros) links to key 0
// with weight 0. Throws mha::Error when weights is not rank 2.
std::vector<AttentionLink> strongest_links(TensorView<const float> weights);

}  // namespace mha::viz
