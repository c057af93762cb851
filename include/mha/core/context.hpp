// Context: the execution settings passed explicitly into every computation (no hidden globals).
#pragma once

#include <cstdint>

namespace mha {

class Workspace;

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
};

}  // namespace mha
