// Seeded random tensors for tests: the same seed gives the same values within one build.
#pragma once

#include <cstdint>
#include <limits>
#include <random>

#include "mha/core/tensor.hpp"

namespace mha::testing {

// Uniform values in [lo, hi).
inline Tensor<> random_tensor(Shape shape, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor<> t(std::move(shape));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(lo, hi);
  for (float& x : t.values()) x = uniform(rng);
  return t;
}

// Copies `src` into a buffer whose rows (last dimension) are padded by `pad` unused elements, each
// filled with NaN, and returns a view of the copy; `storage` owns the buffer. A kernel that walks
// a padded view by the wrong stride reads NaN.
inline TensorView<float> padded_copy(TensorView<const float> src, Index pad, Tensor<>& storage) {
  Shape padded_shape = src.shape();
  padded_shape.back() += pad;
  storage = Tensor<>(padded_shape);
  for (float& x : storage.values()) x = std::numeric_limits<float>::quiet_NaN();
  const Shape strides = contiguous_strides(padded_shape);
  TensorView<float> view(storage.data(), src.shape(), strides);
  Index n = 0;
  const Tensor<> flat = Tensor<>::copy_of(src);
  Tensor<>::for_each_index(src.shape(), [&](std::span<const Index> idx) {
    Index offset = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) offset += idx[d] * strides[d];
    storage.data()[offset] = flat.data()[n++];
  });
  return view;
}

}  // namespace mha::testing
