// mha bench --dist: times the layer forward with the sequence spread over the ranks of an mpirun
// job, and what it takes apart: the exchange measured alone, how much of it the ring hid behind
// compute, the link between two ranks, and the same shape in a single process.
//
//   mpirun -np P mha bench --dist ring|ulysses --shape B,N,E,H [--causal] [--layout zigzag]
//                          [--threads T] [--repeats R] [--json]
//
// Rank 0 prints the report (docs/distributed.md explains each figure); the other ranks print
// nothing. Like dist_attend.hpp, this header names no MPI type (dist_unavailable.cpp stands in
// without MPI).
#pragma once

#include <string>

#include "mha/core/shape.hpp"

namespace mha::cli {

struct DistBenchOptions {
  Index batch = 1, length = 0, embed = 0, heads = 1;  // --shape, checked by bench.cpp
  bool causal = false;
  std::string algorithm;          // --dist
  std::string layout = "zigzag";  // --layout
  std::string kernel;
  int threads = 0;  // per rank; 0 = the OpenMP default
  int repeats = 10;
  bool json = false;
};

// Throws mha::Error naming the option on bad input, on every rank alike.
void run_dist_bench(const DistBenchOptions& options);

}  // namespace mha::cli
