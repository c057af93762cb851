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
};

}  // namespace mha
