// Sinusoidal positions (mha/layers/positional_encoding.hpp).
#include "mha/layers/positional_encoding.hpp"

#include <cmath>
#include <string>

namespace mha {

float sinusoidal_position(Index position, Index dim, Index width) {
  // Dimensions 2k and 2k+1 share the frequency 1 / 10000^(2k / width).
  const auto two_k = static_cast<double>(dim - dim % 2);
  const double angle = static_cast<double>(position) / std::pow(10000.0, two_k / static_cast<double>(width));
  return static_cast<float>(dim % 2 == 0 ? std::sin(angle) : std::cos(angle));
}

Tensor<> sinusoidal_positions(Index length, Index width) {
  if (length < 0 || width < 1)
    throw_invalid("length, width", "length ≥ 0 and width ≥ 1",
                  std::to_string(length) + ", " + std::to_string(width));
  Tensor<> pe({length, width});
  for (Index pos = 0; pos < length; ++pos)
    for (Index dim = 0; dim < width; ++dim) pe(pos, dim) = sinusoidal_position(pos, dim, width);
  return pe;
}

}  // namespace mha
