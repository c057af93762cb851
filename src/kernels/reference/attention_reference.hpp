// The reference attention kernel: the oracle every fast kernel is tested against.
#pragma once

#include "mha/kernels/attention.hpp"

namespace mha {

// Contract in mha/kernels/attention.hpp; arguments already validated by mha::attention.
void attention_reference(const AttentionArgs& args);

}  // namespace mha
