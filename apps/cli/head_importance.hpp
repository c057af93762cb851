// The head view's importance marks from a head ablation: what `mha heads --html --ablate` and
// `mha demo --html` put on each head's swatch.
#pragma once

#include "mha/train/head_ablation.hpp"
#include "mha/viz/head_view_html.hpp"

namespace mha::cli {

// [layer][head] Δ loss per relation and the relation each head carries (−1: none), with the note
// the page shows above them.
viz::HeadViewImportance importance_view(const train::HeadAblation& a);

}  // namespace mha::cli
