// The encoders' shared input rule (mha/models/encoder.hpp).
#include "mha/models/encoder.hpp"

#include <string>

namespace mha {

BoolTensor padding_flags(TensorView<const std::int64_t> attention_mask) {
  BoolTensor flags(attention_mask.shape());
  for (Index b = 0; b < attention_mask.dim(0); ++b)
    for (Index j = 0; j < attention_mask.dim(1); ++j) {
      const std::int64_t m = attention_mask(b, j);
      if (m != 0 && m != 1)
        throw_invalid(
            "attention_mask", "values 0 (padding) or 1 (attend)",
            std::to_string(m) + " at [" + std::to_string(b) + ", " + std::to_string(j) + "]");
      flags(b, j) = m == 0 ? 1 : 0;
    }
  return flags;
}

Tensor<std::int64_t> position_ids(const EncoderInput& input, Index max_positions, const Context& ctx) {
  const TensorView<const std::int64_t>& ids = input.input_ids;
  Tensor<std::int64_t> positions(ids.shape());
  if (!input.position_ids.defined()) {
    if (ctx.sequence_parallel != nullptr)
      throw_invalid("position_ids", "the global positions of this rank's tokens under sequence parallelism",
                    "none");
    for (Index b = 0; b < ids.dim(0); ++b)
      for (Index i = 0; i < ids.dim(1); ++i) positions(b, i) = i;
    return positions;
  }
  if (input.position_ids.shape() != ids.shape())
    throw_invalid("position_ids", "shape " + shape_str(ids.shape()) + " (like input_ids)",
                  shape_str(input.position_ids.shape()));
  for (Index b = 0; b < ids.dim(0); ++b)
    for (Index i = 0; i < ids.dim(1); ++i) {
      const std::int64_t p = input.position_ids(b, i);
      if (p < 0 || p >= max_positions)
        throw_invalid("position_ids", "values in [0, " + std::to_string(max_positions) + ")",
                      std::to_string(p) + " at [" + std::to_string(b) + ", " + std::to_string(i) + "]");
      positions(b, i) = p;
    }
  return positions;
}

}  // namespace mha
