// The fast CPU linear projection: one oneDNN fp32 matmul, y = x·Wᵀ + b.
#pragma once

#include "mha/core/context.hpp"
#include "mha/kernels/linear.hpp"

namespace mha {

// Contract in mha/kernels/linear.hpp; arguments already validated by mha::linear.
void linear_onednn(const LinearArgs& args, const Context& ctx);

}  // namespace mha
