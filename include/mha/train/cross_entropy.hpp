// The training loss: cross-entropy over the rows whose target is ≥ 0, accumulated in double.
//   loss = (1/T) Σ_t −log softmax(z_t)[y_t],   dz_t = (softmax(z_t) − onehot(y_t)) / T;
//   rows with target −1 get dz = 0
#pragma once

#include <cstdint>
#include <span>

#include "mha/core/tensor.hpp"

namespace mha::train {

struct CrossEntropy {
  double loss = 0;       // mean over the predicted rows (0 when there are none)
  Index predicted = 0;   // T: rows with a target ≥ 0
  Index correct = 0;     // rows whose argmax equals the target
  Tensor<> dlogits;      // [R, V]
};
// logits [R, V], targets [R] with values in [0, V) or −1 (not predicted). Throws mha::Error
// naming `targets` for a value outside that range.
CrossEntropy cross_entropy(const Tensor<>& logits, std::span<const std::int64_t> targets);

}  // namespace mha::train
