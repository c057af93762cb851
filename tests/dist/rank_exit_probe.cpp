// A job in which one rank exits in the middle (`rank_exit_probe CODE`: rank 1 leaves with exit
// status CODE before the attention call, without MPI_Finalize). The others must not hang: either
// mpirun ends the job when it sees the rank go, or their bounded wait gives up and they abort
// with the error. ctest (tests/dist/CMakeLists.txt) runs it under mpirun and expects the job to
// end in time with a message that says which.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mha/dist/sequence_parallel.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int code = argc > 1 ? std::atoi(argv[1]) : 3;
  const mha::dist::SequenceParallel sp(MPI_COMM_WORLD, {.timeout = std::chrono::seconds(10)});
  if (sp.rank() == 1) std::exit(code);
  const mha::Index n = mha::dist::shard_length(64, sp.ranks(), sp.rank(), mha::dist::Layout::zigzag);
  mha::Tensor<> q({1, 2, n, 8}), out({1, 2, n, 8});
  mha::AttentionParams params;
  params.scale = 0.35;
  try {
    sp.attention({.q = q.view(), .k = q.view(), .v = q.view(), .out = out.view(), .weights = {}, .lse = {},
                  .params = params},
                 mha::Context{.kernel = mha::KernelKind::cpu, .threads = 1});
  } catch (const mha::Error& e) {
    std::fprintf(stderr, "rank_exit_probe: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  std::fprintf(stderr, "rank_exit_probe: rank %d finished although rank 1 had exited\n", sp.rank());
  MPI_Finalize();
  return 1;
}
