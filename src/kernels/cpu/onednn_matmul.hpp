// One oneDNN fp32 matmul over caller memory, of any batch rank: dst = scale·(src·weights) + bias,
// every operand described by its dims and strides (no copies; oneDNN broadcasts batch dims of
// size 1). Shared by the projections (linear_onednn.cpp) and the unfused attention path
// (attention_unfused.cpp).
#pragma once

#include <compare>
#include <vector>

#include "mha/core/shape.hpp"
#include "mha/core/workspace.hpp"

namespace mha::cpu {

struct MatmulLayout {
  // src [..., M, K], weights [..., K, N], dst [..., M, N]: equal ranks, batch dims equal or 1.
  std::vector<Index> src_dims, src_strides, weights_dims, weights_strides, dst_dims, dst_strides;
  bool bias = false;   // a contiguous [N] row added to every dst row
  float scale = 1.0f;  // applied to the product before the bias
  int threads = 1;     // the OpenMP team it runs on (part of the layout: oneDNN fixes it at creation)
  auto operator<=>(const MatmulLayout&) const = default;
};

// Runs the product. Primitives are created once per layout and cached (creating one costs far
// more than running a small one; the cache is bounded, see the .cpp). oneDNN's scratchpad lives
// in the workspace's matmul_scratchpad slot, so calls that share a workspace reuse it (one
// allocated by oneDNN per call came from glibc's mmap in some processes and was faulted in on
// every call: about 96 page faults per (1, 128, 512, 8) forward, which then took 1.8–2.1 ms
// instead of 1.0–1.1). Safe to call from several threads at once, each with its own workspace.
void run_matmul(const MatmulLayout& layout, const float* src, const float* weights,
                const float* bias, float* dst, Workspace& workspace);

}  // namespace mha::cpu
