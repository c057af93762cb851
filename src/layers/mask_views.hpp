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

// The kernel masks of one MultiHeadAttention call. kv_len counts the appended bias_kv /
// zero_attn keys (kv_len − src_len of them).
struct MaskPlan {
  Index batch, heads, len, src_len, kv_len;
  bool unbatched;
  // Copy the caller's masks into the storage (training keeps them past the caller's lifetime).
  bool copy_masks = false;
};

// key_padding_mask (B, S) or (S) unbatched → [B, H, L, S'].
Mask kernel_key_padding(const Mask& user, const MaskPlan& plan, MaskStorage& storage);
// attn_mask (L, S) or (B·H, L, S) ((H, L, S) unbatched) → [B, H, L, S'].
Mask kernel_attn_mask(const Mask& user, const MaskPlan& plan, MaskStorage& storage);
// Causality and the sliding window over the S real keys only: PyTorch's appended bias_kv /
// zero_attn keys stay visible to every query, so with them the rule becomes an explicit mask.
Mask causal_mask_with_appended_keys(bool is_causal, Alignment alignment, Index window_left,
                                    const MaskPlan& plan, MaskStorage& storage);

// Broadcasts a mask to `target` by PyTorch's rules (align trailing dimensions; extent 1 or a
// missing dimension repeats via stride 0). Throws mha::Error naming `name` otherwise.
Mask broadcast_mask(const Mask& mask, const Shape& target, const std::string& name);

}  // namespace mha
