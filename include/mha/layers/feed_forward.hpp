// FeedForward: the position-wise feed-forward block of a transformer layer,
//   FFN(x) = act(x·W₁ᵀ + b₁)·W₂ᵀ + b₂
//   x: [..., E]   W₁: [F, E] (BERT's intermediate.dense)   W₂: [E, F] (BERT's output.dense)
// The residual connection and the norm belong to the caller (pre-LN and post-LN differ there).
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/activation.hpp"
#include "mha/layers/linear_layer.hpp"

namespace mha {

class FeedForward {
 public:
  // Throws mha::Error unless output.in_features == intermediate.out_features.
  FeedForward(Linear intermediate, Activation activation, Linear output);

  const Linear& intermediate() const { return intermediate_; }
  const Linear& output() const { return output_; }
  Activation activation() const { return activation_; }

  Tensor<> forward(TensorView<const float> x, const Context& ctx = {}) const;

 private:
  Linear intermediate_;
  Activation activation_;
  Linear output_;
};

}  // namespace mha
