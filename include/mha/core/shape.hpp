// Shapes and strides: small vectors of signed 64-bit extents, printed as "[2, 5]".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mha {

using Index = std::int64_t;
using Shape = std::vector<Index>;

// "[2, 5]"; "[]" for a scalar.
std::string shape_str(std::span<const Index> shape);

// Product of the extents (1 for a scalar). Throws mha::Error on a negative extent or overflow.
Index numel_of(std::span<const Index> shape);

// Row-major (C order) strides for a shape, in elements.
Shape contiguous_strides(std::span<const Index> shape);

}  // namespace mha
