// Deterministic uniform initialisation shared by the layers' random weights and the trainer's
// fresh models.
#pragma once

#include <random>
#include <span>

#include "mha/core/tensor.hpp"

namespace mha {

// Uniform in [−bound, bound) from the top 53 bits of a 64-bit Mersenne Twister: the same values
// on every platform, unlike std::uniform_real_distribution.
inline void fill_uniform(std::span<float> values, double bound, std::mt19937_64& rng) {
  for (float& x : values) {
    const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    x = static_cast<float>((2.0 * unit - 1.0) * bound);
  }
}

}  // namespace mha
