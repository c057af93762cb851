// Which of the cpu kernel's two attention paths runs a call, and why: the fused kernel
// (attention_cpu.cpp, tiles and online softmax) or the unfused one (attention_unfused.hpp).
// One rule, read by the kernel and by mha::explain_attention_dispatch.
#pragma once

#include <string>

#include "mha/core/context.hpp"
#include "mha/kernels/attention.hpp"

namespace mha::cpu {

struct PathChoice {
  AttentionPath path = AttentionPath::fused;  // fused or unfused, never automatic
  std::string reason;                         // one sentence, for --explain-dispatch
};

// What keeps the unfused path from computing these arguments exactly, or empty when nothing does.
std::string unfused_attention_blocker(const AttentionArgs& args);

// The path for validated arguments: ctx.attention_path when forced (unless a blocker stands in
// the unfused path's way), else the measured rule. With `explain` false the reason stays empty
// (no string is built on the kernel's hot path).
PathChoice choose_attention_path(const AttentionArgs& args, const Context& ctx, bool explain);

}  // namespace mha::cpu
