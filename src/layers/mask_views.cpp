#include "layers/mask_views.hpp"

#include "core/check.hpp"

namespace mha {
namespace {

template <class T>
Tensor<T> pad_last_dim(TensorView<const T> src, Index padded, T fill) {
  Shape shape = src.shape();
  const Index columns = shape.back();
  shape.back() = padded;
  Tensor<T> out(shape);
  Index n = 0;
  Tensor<T>::for_each_index(shape, [&](std::span<const Index> idx) {
    T value = fill;
    if (idx.back() < columns) {
      Index offset = 0;
      for (std::size_t d = 0; d < idx.size(); ++d) offset += idx[d] * src.strides()[d];
      value = src.data()[offset];
    }
    out.data()[n++] = value;
  });
  return out;
}

}  // namespace

Mask with_layout(const Mask& mask, Shape shape, Shape strides) {
  Mask out = mask;
  if (mask.kind == MaskKind::additive)
    out.values = TensorView<const float>(mask.values.data(), std::move(shape), std::move(strides));
  else
    out.flags = TensorView<const std::uint8_t>(mask.flags.data(), std::move(shape), std::move(strides));
  return out;
}

Mask pad_key_columns(const Mask& mask, Index padded_columns, MaskStorage& storage) {
  MHA_CHECK(mask.shape().back() <= padded_columns);
  Mask out = mask;
  switch (mask.kind) {
    case MaskKind::block:
      out.flags = storage.keep_alive(pad_last_dim<std::uint8_t>(mask.flags, padded_columns, 0));
      break;
    case MaskKind::keep:
      out.flags = storage.keep_alive(pad_last_dim<std::uint8_t>(mask.flags, padded_columns, 1));
      break;
    case MaskKind::additive:
      out.values = storage.keep_alive(pad_last_dim<float>(mask.values, padded_columns, 0.0f));
      break;
  }
  return out;
}

Mask broadcast_mask(const Mask& mask, const Shape& target, const std::string& name) {
  const Shape& shape = mask.shape();
  const Shape& strides = mask.kind == MaskKind::additive ? mask.values.strides() : mask.flags.strides();
  const auto rank = static_cast<Index>(target.size()), mask_rank = static_cast<Index>(shape.size());
  if (mask_rank > rank)
    throw_invalid(name, "a shape broadcastable to " + shape_str(target), shape_str(shape));
  Shape out_strides(target.size(), 0);
  for (Index d = 0; d < mask_rank; ++d) {
    const auto src = static_cast<std::size_t>(mask_rank - 1 - d);
    const auto dst = static_cast<std::size_t>(rank - 1 - d);
    if (shape[src] == target[dst])
      out_strides[dst] = strides[src];
    else if (shape[src] != 1)
      throw_invalid(name, "a shape broadcastable to " + shape_str(target), shape_str(shape));
  }
  return with_layout(mask, target, out_strides);
}

}  // namespace mha
