#include "mha/core/shape.hpp"

#include <limits>

#include "mha/core/error.hpp"

namespace mha {

std::string shape_str(std::span<const Index> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Index numel_of(std::span<const Index> shape) {
  Index n = 1;
  for (const Index extent : shape) {
    if (extent < 0) throw_invalid("shape", "non-negative extents", shape_str(shape));
    if (extent != 0 && n > std::numeric_limits<Index>::max() / extent)
      throw_invalid("shape", "an element count that fits in 64 bits", shape_str(shape));
    n *= extent;
  }
  return n;
}

Shape contiguous_strides(std::span<const Index> shape) {
  Shape strides(shape.size());
  Index stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    // Only a shape with a zero extent elsewhere can overflow here (numel_of rejects the rest);
    // such a tensor has no elements, so its strides are never used to address anything.
    if (__builtin_mul_overflow(stride, shape[i] > 0 ? shape[i] : 1, &stride)) stride = 0;
  }
  return strides;
}

}  // namespace mha
