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

}  // namespace mha
