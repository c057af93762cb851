// What each head of one layer does for one focus token: where its attention goes, how decided it
// is, and which heads link the focus token to a chosen target token.
//
//   weights: [H, L, S], one layer's per-head softmax weights p_h[i, j] (query i, key j)
//   focus f (a query index), target t (a key index)
//
//   top key        k*_h = argmax_j p_h[f, j]                       (earliest key on ties)
//   margin         p_h[f, k*_h] − max_{j ≠ k*_h} p_h[f, j]          (how far ahead the winner is)
//   focus entropy  E_h(f) = −Σ_j p_h[f, j] · ln p_h[f, j]          (nats, 0·ln 0 = 0)
//   mean entropy   (1/L) Σ_i E_h(i)                                 (the head over every query)
//
// Entropy is 0 when a row puts all its weight on one key and ln S when it is uniform; the focus
// entropy says how the head treats this token, the mean entropy what kind of head it is overall
// (broad "bag of words" heads versus sharp positional or syntactic ones).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::viz {

struct HeadFocus {
  Index head = 0;
  Index top_key = 0;         // k*_h
  float top_weight = 0.0F;   // p_h[f, k*_h]
  float margin = 0.0F;       // over the runner-up; equals top_weight when S = 1
  double focus_entropy = 0;  // E_h(f), nats
  double mean_entropy = 0;   // mean of E_h(i) over all queries i, nats
};

struct HeadTargetWeight {
  Index head = 0;
  float weight = 0.0F;    // p_h[f, t]
  Index rank_in_row = 0;  // 1 when t is the head's top key for f, 2 for the runner-up, ...
};

// Entropy of one row of weights, in nats (terms with p = 0 contribute 0).
double row_entropy(std::span<const float> row);

// One HeadFocus per head, in head order. Throws mha::Error when weights is not rank 3 or focus is
// outside [0, L).
std::vector<HeadFocus> analyze_focus(TensorView<const float> weights, Index focus);

// Every head with its weight from focus to target, strongest first (ties keep head order).
// Throws mha::Error when weights is not rank 3, focus is outside [0, L) or target outside [0, S).
std::vector<HeadTargetWeight> rank_heads_by_target(TensorView<const float> weights, Index focus,
                                                   Index target);

// The position of a token named on the command line: "#N" is position N (0-based); anything else
// is matched against the tokens, exactly first and then ignoring ASCII case, and the first match
// wins. Throws mha::Error naming `argument` and listing the tokens when nothing matches.
Index find_token(std::span<const std::string> tokens, std::string_view spec,
                 const std::string& argument);

}  // namespace mha::viz
