// Choosing a language model's next token from its logits: greedy, or a draw from the
// distribution shaped by temperature, top-k and top-p (nucleus sampling, Holtzman et al. 2019),
// applied in that order as Hugging Face's generate() does:
//
//   p_i  = softmax(z / T)_i                          T > 0
//   top-k: keep the k most probable ids (k = 0: all), renormalise
//   top-p: keep the fewest most probable ids whose mass reaches P (at least one), renormalise
//   T = 0: argmax z (the lowest id among equal maxima), no draw
// Ties in probability are ordered by id, and the draw maps one mt19937_64 output by our own
// arithmetic (u = top 53 bits · 2⁻⁵³, the first id whose cumulative mass exceeds u), so a seed
// gives the same tokens with every standard library.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "mha/core/shape.hpp"

namespace mha::train {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  Index top_k = 0;           // 0 = no limit
  double top_p = 1.0;        // 1 = no limit
};

// Throws mha::Error naming "temperature" (a finite number >= 0), "top_k" (>= 0) or "top_p"
// (in (0, 1]).
void validate(const SamplingParams& params);

// The distribution a draw uses: [V] probabilities summing to 1, zero outside the kept ids
// (greedy: one 1 at the argmax). Validates params; throws mha::Error naming "logits" when empty.
std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingParams& params);

// One token id. Draws from `rng` exactly once unless greedy.
std::int64_t sample_token(std::span<const float> logits, const SamplingParams& params,
                          std::mt19937_64& rng);

}  // namespace mha::train
