// The fast CPU backward pass of y = x·Wᵀ + b: the two gradient products as oneDNN matmuls.
#pragma once

#include "mha/core/context.hpp"
#include "mha/kernels/linear_backward.hpp"

namespace mha {

// Contract in mha/kernels/linear_backward.hpp; arguments already validated.
void linear_backward_cpu(const LinearBackwardArgs& args, const Context& ctx);

}  // namespace mha
