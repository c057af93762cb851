// The work of one self-attention forward of MultiHeadAttention, the one formula that every
// GFLOP/s figure and cost table in mha uses (numerics.md). A multiply-add counts as two
// operations; for batch B, N tokens and width E = H·D:
//   projections  Q, K, V and out, each N·E² multiply-adds       8·B·N·E²
//   core         Q·Kᵀ and P·V, each N²·E multiply-adds          4·B·N²·E
// A causal forward is counted dense, so its GFLOP/s compare with the dense one; the softmax's
// B·H·N² exponentials are not counted.
#pragma once

#include "mha/core/shape.hpp"

namespace mha {

struct MhaForwardFlops {
  Index projections = 0;
  Index core = 0;
  constexpr Index total() const { return projections + core; }
};

constexpr MhaForwardFlops mha_forward_flops(Index batch, Index length, Index embed_dim) {
  return {.projections = 8 * batch * length * embed_dim * embed_dim,
          .core = 4 * batch * length * length * embed_dim};
}

}  // namespace mha
