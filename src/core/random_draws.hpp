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

// splitmix64's finaliser: decorrelates (seed, step) pairs into independent generator seeds, so
// step t of a run draws from mt19937_64(mix_seed(seed, t)) whatever ran before it.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t step) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (step + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) for n ≥ 1. The modulo bias is below n / 2^64, far under anything measurable.
inline std::size_t uniform_index(std::mt19937_64& rng, std::size_t n) {
  return static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n));
}

// Uniform in [0, 1): the top 53 bits of one draw scaled by 2^-53 (every value exact in double).
inline double uniform_unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace mha
