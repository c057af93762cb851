// LayerNorm over the last dimension, nn.LayerNorm's semantics (biased variance, eps inside the
// square root), forward and backward:
//   y = x̂·γ + β,   x̂ = (x − μ)·r,   r = 1/sqrt(σ² + eps)
//   dγ = Σ_rows dy·x̂,   dβ = Σ_rows dy,   dx = r·(g − mean(g) − x̂·mean(g·x̂))  with g = dy·γ
//   x: [..., N]   γ (weight), β (bias): [N]   y: [..., N]
// Mean and variance accumulate in float64 (two passes), so the result does not depend on the
// size of the mean the way a one-pass E[x²] − E[x]² would; backward recomputes μ and r from the
// input it kept.
#pragma once

#include "mha/core/tensor.hpp"
#include "mha/layers/weight.hpp"

namespace mha {

// What a training forward keeps: the normalised input (x, or x + residual).
struct LayerNormTape {
  Tensor<> input;
};

// Where backward writes dγ and dβ (overwritten).
struct LayerNormGradients {
  TensorView<float> weight;
  TensorView<float> bias;
};

class LayerNorm {
 public:
  // Throws mha::Error unless weight and bias are both [N] and eps is finite and > 0.
  LayerNorm(Weight weight, Weight bias, double eps);

  Index normalized_size() const { return weight_.dim(0); }
  double eps() const { return eps_; }
  const Weight& weight() const { return weight_; }
  const Weight& bias() const { return bias_; }

  Tensor<> forward(TensorView<const float> x, LayerNormTape* tape = nullptr) const;
  // LayerNorm(x + residual): the post-LN sublayer output of BERT and of "Attention Is All You
  // Need" (the sum is rounded to float first, as PyTorch adds the float tensors before the norm).
  Tensor<> forward(TensorView<const float> x, TensorView<const float> residual,
                   LayerNormTape* tape = nullptr) const;

  // dL/d input for dL/dy = grad_y (the input's shape); writes dγ and dβ into `grads`.
  Tensor<> backward(const LayerNormTape& tape, TensorView<const float> grad_y,
                    const LayerNormGradients& grads) const;

 private:
  Weight weight_;
  Weight bias_;
  double eps_;
};

}  // namespace mha
