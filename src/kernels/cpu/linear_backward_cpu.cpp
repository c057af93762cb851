// Both gradient products of y = x·Wᵀ + b are themselves "x·Wᵀ" products, so they run through the
// same oneDNN matmul as the forward (linear_onednn), on contiguous copies laid out for it:
//   dX = dY·W   = dY·(Wᵀ)ᵀ   → linear(x = dY [M, Out], weight = Wᵀ [In, Out])
//   dW = dYᵀ·X  = dYᵀ·(Xᵀ)ᵀ  → linear(x = dYᵀ [Out, M], weight = Xᵀ [In, M])
// with M = B·R rows. The transposed copies cost O(M·(In + Out)), small next to the O(M·In·Out)
// products. db = Σ_rows dY is summed in double.
#include "kernels/cpu/linear_backward_cpu.hpp"

#include <algorithm>
#include <vector>

#include "kernels/cpu/linear_onednn.hpp"

namespace mha {
namespace {

// [rows, cols] view → contiguous [cols, rows] transpose.
Tensor<> transposed(TensorView<const float> m) {
  const Index rows = m.dim(0), cols = m.dim(1);
  Tensor<> t({cols, rows});
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) t(c, r) = m(r, c);
  return t;
}


void copy_into(const Tensor<>& from, TensorView<float> to) {
  if (to.is_contiguous()) {
    std::copy_n(from.data(), from.numel(), to.data());
    return;
  }
  Index i = 0;
  Tensor<>::for_each_index(to.shape(), [&](std::span<const Index> idx) {
    Index offset = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) offset += idx[d] * to.strides()[d];
    to.data()[offset] = from.data()[i++];
  });
}

}  // namespace

void linear_backward_cpu(const LinearBackwardArgs& a, const Context& ctx) {
  const Index rows = a.x.dim(0) * a.x.dim(1), in = a.weight.dim(1), out = a.weight.dim(0);
  const Tensor<> dy = Tensor<>::copy_of(a.grad_y);  // contiguous [B, R, Out] = rows [M, Out]
  if (a.grad_x.defined()) {
    const Tensor<> w_t = transposed(a.weight);  // [In, Out]
    Tensor<> dx({1, rows, in});
    linear_onednn({.x = dy.view_as({1, rows, out}), .weight = w_t.view(), .bias = {}, .y = dx.view()},
                  ctx);
    copy_into(dx, a.grad_x);
  }
  if (a.grad_weight.defined()) {
    const Tensor<> x = Tensor<>::copy_of(a.x);
    const Tensor<> dy_t = transposed(dy.view_as({rows, out}));  // [Out, M]
    const Tensor<> x_t = transposed(x.view_as({rows, in}));     // [In, M]
    Tensor<> dw({1, out, in});
    linear_onednn({.x = dy_t.view_as({1, out, rows}), .weight = x_t.view(), .bias = {}, .y = dw.view()},
                  ctx);
    copy_into(dw, a.grad_weight);
  }
  if (a.grad_bias.defined()) {
    std::vector<double> sums(static_cast<std::size_t>(out));
    for (Index r = 0; r < rows; ++r)
      for (Index o = 0; o < out; ++o) sums[static_cast<std::size_t>(o)] += dy.data()[r * out + o];
    for (Index o = 0; o < out; ++o) a.grad_bias(o) = static_cast<float>(sums[static_cast<std::size_t>(o)]);
  }
}

}  // namespace mha
