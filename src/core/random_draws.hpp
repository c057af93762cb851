// Draws from std::mt19937_64 by our own arithmetic.
//
// The standard distributions (uniform_int_distribution, bernoulli_distribution, …) are
// implementation-defined, so the same seed would give different data with another standard
// library. mt19937_64 itself is fully specified, so mapping its raw output by hand keeps every
// sampled sentence, batch and evaluation set identical everywhere.
#pragma once

#include <cstdint>
#include <random>

namespace mha {

// Uniform in [0, n) for n ≥ 1. The modulo bias is below n / 2^64, far under anything measurable.
inline std::size_t uniform_index(std::mt19937_64& rng, std::size_t n) {
  return static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n));
}

// Uniform in [0, 1): the top 53 bits of one draw scaled by 2^-53 (every value exact in double).
inline double uniform_unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace mha
