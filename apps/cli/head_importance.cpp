// The head view's importance marks from a head ablation (head_importance.hpp).
#include "head_importance.hpp"

#include <fmt/core.h>

namespace mha::cli {

viz::HeadViewImportance importance_view(const train::HeadAblation& a) {
  viz::HeadViewImportance v{
      .note = fmt::format("Δ loss (nats) when a head's output is zeroed, on {} held-out {}, per relation "
                          "(the role of the {} word); each head shows the relation it carries (largest Δ, "
                          "≥ {:.2f}) or “none”",
                          a.examples, a.causal ? "sentences" : "examples", a.causal ? "next" : "masked",
                          train::AblationOptions{}.min_delta),
      .relations = a.relations,
      .delta = {},
      .carries = {}};
  for (const train::HeadImportance& h : a.heads) {
    if (h.head.head == 0) {
      v.delta.emplace_back();
      v.carries.emplace_back();
    }
    v.delta.back().push_back(h.delta);
    v.carries.back().push_back(h.carries.value_or(-1));
  }
  return v;
}

}  // namespace mha::cli
