// LayerNorm over the last dimension, nn.LayerNorm's semantics (biased variance, eps inside the
// square root):
//   y = (x − mean(x)) / sqrt(var(x) + eps) · γ + β
//   x: [..., N]   γ (weight), β (bias): [N]   y: [..., N]
// Mean and variance accumulate in float64 (two passes), so the result does not depend on the
// size of the mean the way a one-pass E[x²] − E[x]² would.
#pragma once

#include "mha/core/tensor.hpp"

namespace mha {

class LayerNorm {
 public:
  // Throws mha::Error unless weight and bias are both [N] and eps is finite and > 0.
  LayerNorm(Tensor<> weight, Tensor<> bias, double eps);

  Index normalized_size() const { return weight_.dim(0); }
  double eps() const { return eps_; }
  const Tensor<>& weight() const { return weight_; }
  const Tensor<>& bias() const { return bias_; }

  Tensor<> forward(TensorView<const float> x) const;
  // LayerNorm(x + residual): the post-LN sublayer output of BERT and of "Attention Is All You
  // Need" (the sum is rounded to float first, as PyTorch adds the float tensors before the norm).
  Tensor<> forward(TensorView<const float> x, TensorView<const float> residual) const;

 private:
  Tensor<> weight_;
  Tensor<> bias_;
  double eps_;
};

}  // namespace mha
