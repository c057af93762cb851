// Context: the execution settings passed explicitly into every computation (no hidden globals).
#pragma once

#include <cstdint>

namespace mha {

class Workspace;
class SequenceParallelAttention;

enum class KernelKind : std::uint8_t {
  reference,  // float64 accumulation, plain loops that mirror the math: the oracle
  cpu,        // the fast CPU path
};

// How the cpu kernel runs the attention core (mha::explain_attention_dispatch says which and why).
enum class AttentionPath : std::uint8_t {
  automatic,  // the measured rule (src/kernels/cpu/attention_path.cpp) picks
  fused,      // tiled, online softmax, never storing the N×N scores (FlashAttention)
  unfused,    // oneDNN Q·Kᵀ, a softmax pass over whole rows, oneDNN P·V, a few heads at a time;
              // inputs it cannot take exactly (NaN/Inf values, empty dimensions, strided
              // features) still run fused
};

struct Context {
  KernelKind kernel = KernelKind::reference;
  // Worker threads for the fast kernels; 0 = the OpenMP default (all cores).
  int threads = 0;
  // Scratch memory lent to the call (mha/core/workspace.hpp): with one, repeated forward passes
  // make no large allocations after the first. Null: each call allocates and frees its own.
  Workspace* workspace = nullptr;
  // Attention over a sequence spread across processes (mha/kernels/sequence_parallel.hpp;
  // mha::dist::SequenceParallel is the MPI one). When set, mha::attention reads its views as this
  // process's shard of the sequence and the hook runs the exchange; everything per token (the
  // projections, LayerNorm, the FFN) stays local. Null: one process holds the whole sequence.
  const SequenceParallelAttention* sequence_parallel = nullptr;
  // Tests and benchmarks force a path; everything else leaves the choice to the rule.
  AttentionPath attention_path = AttentionPath::automatic;
};

}  // namespace mha
