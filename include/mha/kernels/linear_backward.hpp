// The backward pass of mha::linear (y = x·Wᵀ + b).
//
//   x: [B, R, In]   weight: [Out, In]   grad_y: [B, R, Out]
//   grad_x: [B, R, In]   grad_weight: [Out, In]   grad_bias: [Out]   (each optional)
//
//   dX = dY·W            dx_bri = Σ_o dy_bro W_oi
//   dW = dYᵀ·X           dW_oi  = Σ_b Σ_r dy_bro x_bri
//   db = Σ dY            db_o   = Σ_b Σ_r dy_bro
// The gradient views are overwritten, never accumulated into; any may have any strides.
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

struct LinearBackwardArgs {
  TensorView<const float> x;
  TensorView<const float> weight;
  TensorView<const float> grad_y;
  TensorView<float> grad_x;       // optional
  TensorView<float> grad_weight;  // optional
  TensorView<float> grad_bias;    // optional
};

// Validates the shapes (mha::Error naming the view) and computes the requested gradients:
// reference accumulates in float64; cpu runs the two products as oneDNN fp32 matmuls.
void linear_backward(const LinearBackwardArgs& args, const Context& ctx = {});

}  // namespace mha
