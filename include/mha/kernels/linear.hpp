// Linear projection with nn.Linear's layout (weight is [out_features, in_features]).
//
//   x: [B, R, In]   weight: [Out, In]   bias: [Out] (optional)   y: [B, R, Out]
//   y_bro = Σ_i x_bri · W_oi + b_o        (y = x·Wᵀ + b)
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

struct LinearArgs {
  TensorView<const float> x;
  TensorView<const float> weight;
  TensorView<const float> bias;  // optional
  TensorView<float> y;
};

// Validates the shapes (mha::Error naming the view) and runs ctx.kernel's implementation.
void linear(const LinearArgs& args, const Context& ctx = {});

}  // namespace mha
