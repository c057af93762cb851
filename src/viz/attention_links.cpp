// Strongest link per query row: argmax_j p_ij (see include/mha/viz/attention_links.hpp).
#include "mha/viz/attention_links.hpp"

#include "mha/core/error.hpp"

namespace mha::viz {

std::vector<AttentionLink> strongest_links(TensorView<const float> weights) {
  if (weights.rank() != 2)
    throw_invalid("weights", "a rank-2 [L, S] table", shape_str(weights.shape()));
  std::vector<AttentionLink> links;
  links.reserve(static_cast<std::size_t>(weights.dim(0)));
  for (Index i = 0; i < weights.dim(0); ++i) {
    AttentionLink link{.query = i, .key = 0, .weight = 0.0F};
    for (Index j = 0; j < weights.dim(1); ++j)
      if (weights(i, j) > link.weight) link = {.query = i, .key = j, .weight = weights(i, j)};
    links.push_back(link);
  }
  return links;
}

}  // namespace mha::viz
