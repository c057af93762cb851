#pragma once

#include "mha/kernels/linear.hpp"

namespace mha {

// Contract in mha/kernels/linear.hpp; arguments already validated by mha::linear.
void linear_reference(const LinearArgs& args);

}  // namespace mha
