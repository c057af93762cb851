// Linear: nn.Linear as a layer, forward and backward.
//
//   weight: [Out, In]   bias: [Out] (optional)   x: [..., In]   y: [..., Out]
//   y  = x·Wᵀ + b
//   dx = dy·W,   dW = Σ_rows dyᵀ·x,   db = Σ_rows dy            (mha/kernels/linear_backward.hpp)
// The products go through mha::linear and mha::linear_backward, so ctx.kernel picks the backend
// as everywhere else.
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/weight.hpp"

namespace mha {

// What a training forward keeps: the input, contiguous.
struct LinearTape {
  Tensor<> input;
};

// Where backward writes the weight gradients (overwritten, not accumulated): views of the
// model's gradient store, or of tensors of the weights' shapes. bias may be absent.
struct LinearGradients {
  TensorView<float> weight;
  TensorView<float> bias;
};

class Linear {
 public:
  // Throws mha::Error when weight is not rank 2 or bias is not [Out].
  explicit Linear(Weight weight, Weight bias = {});

  Index in_features() const { return weight_.dim(1); }
  Index out_features() const { return weight_.dim(0); }
  const Weight& weight() const { return weight_; }
  const Weight& bias() const { return bias_; }  // undefined when the layer has no bias

  // x of any rank >= 1 whose last dimension is In; any strides. With a tape, keeps x.
  Tensor<> forward(TensorView<const float> x, const Context& ctx = {}, LinearTape* tape = nullptr) const;

  // dL/dx for dL/dy = grad_y (y's shape); writes dW and db into `grads`.
  Tensor<> backward(const LinearTape& tape, TensorView<const float> grad_y, const LinearGradients& grads,
                    const Context& ctx = {}) const;

 private:
  Weight weight_;
  Weight bias_;
};

}  // namespace mha
