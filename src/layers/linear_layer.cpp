// Linear layer: validates once at construction, then flattens the leading dimensions of x into
// rows and hands [1, rows, In] to the dispatched mha::linear kernel.
#include "mha/layers/linear_layer.hpp"

#include "mha/kernels/linear.hpp"

namespace mha {

Linear::Linear(Tensor<> weight, Tensor<> bias)
    : weight_(std::move(weight)), bias_(std::move(bias)) {
  if (!weight_.defined() || weight_.rank() != 2)
    throw_invalid("weight", "a rank-2 tensor [out_features, in_features]",
                  weight_.defined() ? shape_str(weight_.shape()) : "none");
  if (bias_.defined() && bias_.shape() != Shape{weight_.dim(0)})
    throw_invalid("bias", "shape " + shape_str(Shape{weight_.dim(0)}), shape_str(bias_.shape()));
}

Tensor<> Linear::forward(TensorView<const float> x, const Context& ctx) const {
  if (x.rank() < 1 || x.dim(-1) != in_features())
    throw_invalid("x", "last dimension in_features = " + std::to_string(in_features()),
                  shape_str(x.shape()));
  // Leading dimensions collapse into rows only when contiguous; copy otherwise.
  Tensor<> packed;
  if (!x.is_contiguous()) {
    packed = Tensor<>::copy_of(x);
    x = packed.view();
  }
  const Index rows = x.numel() / in_features();
  Shape out_shape = x.shape();
  out_shape.back() = out_features();
  Tensor<> y(out_shape);
  linear({.x = TensorView<const float>(x.data(), {1, rows, in_features()}),
          .weight = weight_.view(),
          .bias = bias_.defined() ? bias_.view() : TensorView<const float>{},
          .y = y.view_as({1, rows, out_features()})},
         ctx);
  return y;
}

}  // namespace mha
