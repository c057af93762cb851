// The sinusoidal positional encoding of "Attention Is All You Need" §3.5:
//   PE(i, 2k) = sin(i / 10000^(2k/E)),  PE(i, 2k+1) = cos(i / 10000^(2k/E))
// for positions i = 0 … length−1 and E = width; computed in float64, rounded once.
#pragma once

#include "mha/core/tensor.hpp"

namespace mha {

// PE(position, dim) for a model of `width` dimensions (no checks: 0 <= dim < width).
float sinusoidal_position(Index position, Index dim, Index width);
// [length, width]: the rows for positions 0 … length−1; throws mha::Error for length < 0 or
// width < 1.
Tensor<> sinusoidal_positions(Index length, Index width);

}  // namespace mha
