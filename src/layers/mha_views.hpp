// Views shared by MultiHeadAttention's forward and training passes: the caller's layouts read
// batch first and [B, L, H·D] rows read as heads (the packed projection rows: projection_rows
// in mha/layers/multi_head_attention.hpp).
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

}  // namespace mha::mha_views
