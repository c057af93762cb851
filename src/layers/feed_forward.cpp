// FFN(x) = act(x·W₁ᵀ + b₁)·W₂ᵀ + b₂ — two dispatched linear kernels around an element-wise map.
#include "mha/layers/feed_forward.hpp"

namespace mha {

FeedForward::FeedForward(Linear intermediate, Activation activation, Linear output)
    : intermediate_(std::move(intermediate)), activation_(activation), output_(std::move(output)) {
  if (output_.in_features() != intermediate_.out_features())
    throw_invalid(
        "output",
        "in_features = intermediate.out_features = " + std::to_string(intermediate_.out_features()),
        std::to_string(output_.in_features()));
}

Tensor<> FeedForward::forward(TensorView<const float> x, const Context& ctx,
                              FeedForwardTape* tape) const {
  Tensor<> hidden = intermediate_.forward(x, ctx, tape ? &tape->intermediate : nullptr);
  if (tape) tape->pre_activation = hidden;
  apply_activation(activation_, hidden.values());
  return output_.forward(hidden.view(), ctx, tape ? &tape->output : nullptr);
}

Tensor<> FeedForward::backward(const FeedForwardTape& tape, TensorView<const float> grad_y,
                               const FeedForwardGradients& grads, const Context& ctx) const {
  Tensor<> grad_hidden = output_.backward(tape.output, grad_y, grads.output, ctx);
  activation_backward(activation_, tape.pre_activation.values(), grad_hidden.values());
  return intermediate_.backward(tape.intermediate, grad_hidden.view(), grads.intermediate, ctx);
}

}  // namespace mha
