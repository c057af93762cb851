// The float64 oracle for attention over a KvCache: plain loops that mirror the formulas of
// mha/kernels/cached_attention.hpp, every cached element widened to double.
#pragma once

#include "mha/kernels/cached_attention.hpp"

namespace mha {

// Contract in mha/kernels/cached_attention.hpp; arguments already validated.
void cached_attention_reference(const CachedAttentionArgs& args);

}  // namespace mha
