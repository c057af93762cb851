// Turning user masks (PyTorch shapes) into the kernel's [B, Hq, Lq, Lk] broadcast views.
#pragma once

#include <deque>
#include <string>

#include "mha/kernels/attention.hpp"

namespace mha {

// Owns any mask copies a forward call had to make, so the views in the kernel params stay valid.
class MaskStorage {
 public:
  TensorView<const std::uint8_t> keep_alive(Tensor<std::uint8_t> t) {
    return flags_.emplace_back(std::move(t)).view();
  }
  TensorView<const float> keep_alive(Tensor<float> t) { return values_.emplace_back(std::move(t)).view(); }

 private:
  std::deque<Tensor<std::uint8_t>> flags_;
  std::deque<Tensor<float>> values_;
};

// The same mask over new data (shape and strides given); kind unchanged.
Mask with_layout(const Mask& mask, Shape shape, Shape strides);

// Copies a mask whose last dimension is `columns` into one with `padded_columns` columns, the
// new ones "attend freely" (block 0, keep 1, additive 0): the keys PyTorch appends for
// add_bias_kv and add_zero_attn are never masked.
Mask pad_key_columns(const Mask& mask, Index padded_columns, MaskStorage& storage);

// Broadcasts a mask to `target` by PyTorch's rules (align trailing dimensions; extent 1 or a
// missing dimension repeats via stride 0). Throws mha::Error naming `name` otherwise.
Mask broadcast_mask(const Mask& mask, const Shape& target, const std::string& name);

}  // namespace mha
