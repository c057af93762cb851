// FeedForward: the position-wise feed-forward block of a transformer layer,
//   FFN(x) = act(x·W₁ᵀ + b₁)·W₂ᵀ + b₂
//   x: [..., E]   W₁: [F, E] (BERT's intermediate.dense)   W₂: [E, F] (BERT's output.dense)
// Backward runs the same three steps in reverse: linear 2, act' (mha/layers/activation.hpp),
// linear 1. The residual connection and the norm belong to the caller (pre-LN and post-LN differ
// there).
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/activation.hpp"
#include "mha/layers/linear_layer.hpp"

namespace mha {

// What a training forward keeps.
struct FeedForwardTape {
  LinearTape intermediate;  // x
  Tensor<> pre_activation;  // x·W₁ᵀ + b₁
  LinearTape output;        // act(pre_activation)
};

struct FeedForwardGradients {
  LinearGradients intermediate;
  LinearGradients output;
};

class FeedForward {
 public:
  // Throws mha::Error unless output.in_features == intermediate.out_features.
  FeedForward(Linear intermediate, Activation activation, Linear output);

  const Linear& intermediate() const { return intermediate_; }
  const Linear& output() const { return output_; }
  Activation activation() const { return activation_; }

  Tensor<> forward(TensorView<const float> x, const Context& ctx = {},
                   FeedForwardTape* tape = nullptr) const;
  // dL/dx for dL/d FFN(x) = grad_y; writes the four weight gradients into `grads`.
  Tensor<> backward(const FeedForwardTape& tape, TensorView<const float> grad_y,
                    const FeedForwardGradients& grads, const Context& ctx = {}) const;

 private:
  Linear intermediate_;
  Activation activation_;
  Linear output_;
};

}  // namespace mha
