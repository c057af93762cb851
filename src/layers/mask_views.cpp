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

const Shape& mask_strides(const Mask& m) {
  return m.kind == MaskKind::additive ? m.values.strides() : m.flags.strides();
}

// The caller's mask, copied into `storage` when the plan asks, padded to kv_len key columns.
Mask prepared(const Mask& user, const MaskPlan& plan, MaskStorage& storage) {
  Mask m = user;
  if (plan.copy_masks) {
    if (m.kind == MaskKind::additive)
      m.values = storage.keep_alive(Tensor<float>::copy_of(user.values));
    else
      m.flags = storage.keep_alive(Tensor<std::uint8_t>::copy_of(user.flags));
  }
  return plan.kv_len > plan.src_len ? pad_key_columns(m, plan.kv_len, storage) : m;
}

}  // namespace

Mask kernel_key_padding(const Mask& user, const MaskPlan& p, MaskStorage& storage) {
  const Shape expected = p.unbatched ? Shape{p.src_len} : Shape{p.batch, p.src_len};
  if (user.shape() != expected)
    throw_invalid("key_padding_mask", "shape " + shape_str(expected), shape_str(user.shape()));
  const Mask m = prepared(user, p, storage);
  const Shape& st = mask_strides(m);
  return with_layout(m, {p.batch, p.heads, p.len, p.kv_len},
                     {p.unbatched ? 0 : st[0], 0, 0, st.back()});
}

Mask kernel_attn_mask(const Mask& user, const MaskPlan& p, MaskStorage& storage) {
  const Shape two_d = {p.len, p.src_len};
  const Shape three_d = {p.unbatched ? p.heads : p.batch * p.heads, p.len, p.src_len};
  if (user.shape() != two_d && user.shape() != three_d)
    throw_invalid("attn_mask",
                  "shape " + shape_str(two_d) + " or " + shape_str(three_d) +
                      (p.unbatched ? " (L, S) or (H, L, S)" : " (L, S) or (B·H, L, S)"),
                  shape_str(user.shape()));
  const Mask m = prepared(user, p, storage);
  const Shape& st = mask_strides(m);
  const Shape shape = {p.batch, p.heads, p.len, p.kv_len};
  if (m.shape().size() == 2) return with_layout(m, shape, {0, 0, st[0], st[1]});
  return with_layout(m, shape, {p.heads * st[0], st[0], st[1], st[2]});
}

Mask causal_mask_with_appended_keys(bool is_causal, Alignment alignment, Index window_left,
                                    const MaskPlan& p, MaskStorage& storage) {
  Tensor<std::uint8_t> block({p.len, p.kv_len});
  for (Index i = 0; i < p.len; ++i) {
    const Index pos = alignment == Alignment::top_left ? i : i + p.src_len - p.len;
    for (Index j = 0; j < p.src_len; ++j) {
      const bool after = is_causal && j > pos;
      const bool outside_window = window_left >= 0 && j < pos - window_left;
      block(i, j) = after || outside_window ? 1 : 0;
    }
  }
  const TensorView<const std::uint8_t> flags = storage.keep_alive(std::move(block));
  return block_mask(TensorView<const std::uint8_t>(
      flags.data(), {p.batch, p.heads, p.len, p.kv_len}, {0, 0, p.kv_len, 1}));
}

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
