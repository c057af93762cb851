// The unfused CPU attention path: for a few heads at a time, S = scale·Q·Kᵀ by one oneDNN batched
// matmul, a softmax pass over whole score rows (masks, causality and the window applied there),
// then out = P·V by a second oneDNN matmul. It stores Hq·Lq·Lk scores per chunk, which is why it
// is only chosen where they are few (attention_path.hpp); there it skips the fused kernel's
// per-tile set-up and runs the two products at oneDNN's full speed.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
#pragma once

#include "kernels/cpu/key_range.hpp"
#include "mha/core/context.hpp"
#include "mha/kernels/attention.hpp"

namespace mha::cpu {

// Scores held at once, in bytes. A chunk is whole batch entries when one entry's scores fit, else
// kv heads of one entry; a (batch, kv head) pair whose G·Lq·Lk scores alone pass it runs fused
// (attention_path.cpp), so the path never holds more. Chunks of 1 MiB, which stay in L2, measured
// 0–8 % slower at B = 1 and 8, N = 32…512: each chunk pays two oneDNN calls.
inline constexpr Index kMaxScoreBytes = Index{32} << 20;

// Floats per score row: Lk rounded up to whole vectors of the widest target.
Index score_pitch(Index lk);

// Same contract as the reference (mha/kernels/attention.hpp), for arguments that
// unfused_attention_blocker (attention_path.hpp) accepts.
void attention_unfused(const AttentionArgs& args, const Context& ctx);

// The softmax pass over rows [i0, i0 + rows) of head (b, h), whose scores (base-2 logits, row
// pitch `pitch`, a whole number of vectors) start at s: each row becomes its probabilities (0 for
// keys that are not allowed, and for columns past Lk), its lse and, when the args ask, its weights
// are written. `bias` is a row of `pitch` floats of scratch. Compiled per SIMD target
// (attention_unfused_rows.cpp).
struct ScoreRows {
  const AttentionArgs* args = nullptr;
  KeyVisibility visibility;
  bool masks_vary_by_row = false;
  Index b = 0, h = 0, i0 = 0, rows = 0, lk = 0;
  float* s = nullptr;
  Index pitch = 0;
  float* bias = nullptr;
};
void softmax_score_rows(const ScoreRows& rows);

}  // namespace mha::cpu
