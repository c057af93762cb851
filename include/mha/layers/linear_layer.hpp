// Linear: nn.Linear as a layer that owns its weights.
//
//   weight: [Out, In]   bias: [Out] (optional)   x: [..., In]   y: [..., Out]
//   y = x·Wᵀ + b
// The matrix product goes through mha::linear, so ctx.kernel picks the backend as everywhere else.
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

class Linear {
 public:
  // Throws mha::Error when weight is not rank 2 or bias is not [Out].
  explicit Linear(Tensor<> weight, Tensor<> bias = {});

  Index in_features() const { return weight_.dim(1); }
  Index out_features() const { return weight_.dim(0); }
  const Tensor<>& weight() const { return weight_; }
  const Tensor<>& bias() const { return bias_; }  // undefined when the layer has no bias

  // x of any rank >= 1 whose last dimension is In; any strides.
  Tensor<> forward(TensorView<const float> x, const Context& ctx = {}) const;

 private:
  Tensor<> weight_;
  Tensor<> bias_;
};

}  // namespace mha
