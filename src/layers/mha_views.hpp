// Views shared by MultiHeadAttention's forward and training passes: the caller's layouts read
// batch first, [B, L, H·D] rows read as heads, and slices of the packed projection weights.
#pragma once

#include "mha/core/tensor.hpp"

namespace mha::mha_views {

// (L, B, X), (B, L, X) or unbatched (L, X), read as [B, L, X] without copying.
template <class T>
TensorView<T> batch_first(TensorView<T> x, bool batch_first_layout) {
  if (x.rank() == 2) return {x.data(), {1, x.dim(0), x.dim(1)}, {0, x.stride(0), x.stride(1)}};
  if (batch_first_layout) return x;
  return {x.data(), {x.dim(1), x.dim(0), x.dim(2)}, {x.stride(1), x.stride(0), x.stride(2)}};
}

// [B, L, H·D] rows with `row_stride` elements apart, seen as [B, H, L, D].
template <class T>
TensorView<T> heads(T* data, Index batch, Index heads, Index len, Index head_dim,
                    Index row_stride) {
  return {data, {batch, heads, len, head_dim}, {len * row_stride, head_dim, row_stride, 1}};
}

// Rows first … first + rows of a 2-D tensor, and elements first … first + count of a 1-D one
// (absent when the tensor is).
template <class T>
TensorView<T> rows(TensorView<T> w, Index first, Index count) {
  return {w.data() + first * w.stride(0), {count, w.dim(1)}, {w.stride(0), w.stride(1)}};
}
template <class T>
TensorView<T> slice(TensorView<T> b, Index first, Index count) {
  if (!b.defined()) return {};
  return {b.data() + first * b.stride(0), {count}, {b.stride(0)}};
}

}  // namespace mha::mha_views
