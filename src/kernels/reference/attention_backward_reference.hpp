// Reference kernels for training: attention forward with dropout and the attention backward.
#pragma once

#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/linear_backward.hpp"

namespace mha {

// Contracts in mha/kernels/attention_backward.hpp; arguments already validated.
void attention_dropout_reference(const AttentionArgs& args, const AttentionDropout& dropout);
void attention_backward_reference(const AttentionBackwardArgs& args);
// Contract in mha/kernels/linear_backward.hpp; arguments already validated.
void linear_backward_reference(const LinearBackwardArgs& args);

}  // namespace mha
