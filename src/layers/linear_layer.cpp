// Linear layer: validates once at construction, then flattens the leading dimensions of x into
// rows and hands [1, rows, In] to the dispatched mha::linear (and linear_backward) kernel.
#include "mha/layers/linear_layer.hpp"

#include "mha/kernels/linear.hpp"
#include "mha/kernels/linear_backward.hpp"

namespace mha {

Linear::Linear(Weight weight, Weight bias) : weight_(std::move(weight)), bias_(std::move(bias)) {
  if (!weight_.defined() || weight_.rank() != 2)
    throw_invalid("weight", "a rank-2 tensor [out_features, in_features]",
                  weight_.defined() ? shape_str(weight_.shape()) : "none");
  if (bias_.defined() && bias_.shape() != Shape{weight_.dim(0)})
    throw_invalid("bias", "shape " + shape_str(Shape{weight_.dim(0)}), shape_str(bias_.shape()));
}

Tensor<> Linear::forward(TensorView<const float> x, const Context& ctx, LinearTape* tape) const {
  if (x.rank() < 1 || x.dim(-1) != in_features())
    throw_invalid("x", "last dimension in_features = " + std::to_string(in_features()),
                  shape_str(x.shape()));
  // Leading dimensions collapse into rows only when contiguous; copy otherwise.
  Tensor<> packed;
  if (!x.is_contiguous() || tape) {
    packed = Tensor<>::copy_of(x);
    x = packed.view();
  }
  const Index rows = x.numel() / in_features();
  Shape out_shape = x.shape();
  out_shape.back() = out_features();
  Tensor<> y(out_shape);
  linear({.x = TensorView<const float>(x.data(), {1, rows, in_features()}),
          .weight = weight_.view(),
          .bias = bias_.view(),
          .y = y.view_as({1, rows, out_features()})},
         ctx);
  if (tape) tape->input = std::move(packed);
  return y;
}

Tensor<> Linear::backward(const LinearTape& tape, TensorView<const float> grad_y,
                          const LinearGradients& grads, const Context& ctx) const {
  const Tensor<>& x = tape.input;
  Shape y_shape = x.shape();
  y_shape.back() = out_features();
  if (grad_y.shape() != y_shape)
    throw_invalid("grad_y", "the output's shape " + shape_str(y_shape), shape_str(grad_y.shape()));
  const Tensor<> dy = grad_y.is_contiguous() ? Tensor<>() : Tensor<>::copy_of(grad_y);
  const float* dy_data = dy.defined() ? dy.data() : grad_y.data();
  const Index rows = x.numel() / in_features();
  Tensor<> dx(x.shape());
  linear_backward({.x = x.view_as({1, rows, in_features()}),
                   .weight = weight_.view(),
                   .grad_y = TensorView<const float>(dy_data, {1, rows, out_features()}),
                   .grad_x = dx.view_as({1, rows, in_features()}),
                   .grad_weight = grads.weight,
                   .grad_bias = grads.bias},
                  ctx);
  return dx;
}

}  // namespace mha
