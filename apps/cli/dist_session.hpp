// MPI for one `mha` command run with --dist, and the waits the CLI's own messages use.
//
// Only the commands given --dist start MPI, so every other command runs without it (and without
// mpirun). Under mpirun each rank is one process of MPI_COMM_WORLD; without mpirun MPI starts as
// a singleton, one rank, and the commands give the single-process result.
//
// Every wait here is bounded, as the library's are: a rank that has died or never arrives makes
// the others throw mha::Error instead of hanging, and since no rank then waits forever, each one
// reaches MPI_Finalize (or is ended by mpirun when a peer exits without it).
#pragma once

#include <mpi.h>

#include <chrono>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace mha::cli {

class DistSession {
 public:
  // MPI_Init_thread with MPI_THREAD_FUNNELED (OpenMP threads compute; only the main thread
  // talks to MPI). Throws mha::Error naming --dist when MPI does not start.
  DistSession();
  // MPI_Finalize. The caller destroys what holds a communicator (SequenceParallel) first.
  ~DistSession();
  DistSession(const DistSession&) = delete;
  DistSession& operator=(const DistSession&) = delete;

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  MPI_Comm comm() const { return MPI_COMM_WORLD; }

  // Runs `step` here, then agrees with every rank on whether it worked. A rank whose step threw
  // rethrows its own error; every other rank throws an mha::Error naming `what` and the first
  // rank that failed. So a failure on one rank (a file only it cannot read) ends the command on
  // all of them before any of them enters a collective the failed rank would never join.
  void all_or_none(const std::function<void()>& step, std::string_view what) const;

 private:
  int rank_ = 0, ranks_ = 1;
};

// How long a rank waits for another before it gives up: the library's default
// (mha::dist::Options::timeout), for the CLI's own gather and barriers too.
std::chrono::milliseconds dist_timeout();

// Polls `requests` (MPI_Testall) with a `pause` between tries, so a waiting rank leaves its core
// to the ranks that compute; throws mha::Error naming `what` once `timeout` has passed. Timed
// exchanges pass a pause of 0 (a sleep would add up to its length to every message).
void wait_bounded(std::span<MPI_Request> requests, std::chrono::milliseconds timeout,
                  std::string_view what,
                  std::chrono::microseconds pause = std::chrono::milliseconds(1));

// A barrier in the same way (MPI_Ibarrier + wait_bounded). With the default pause it suits ranks
// that have nothing to do while another works alone (rank 0 timing the single-process run);
// timed runs start from one with pause 0, so that no rank leaves it up to a pause late.
void bounded_barrier(MPI_Comm comm, std::chrono::milliseconds timeout, std::string_view what,
                     std::chrono::microseconds pause = std::chrono::milliseconds(1));

// Element-wise MPI_Allreduce of `mine` with `op` (MPI_MAX, MPI_SUM, …), every rank getting the
// result; under a bounded wait like the above.
std::vector<double> all_reduce(MPI_Comm comm, const std::vector<double>& mine, MPI_Op op,
                               std::string_view what);

// Throws mha::Error naming `what` when an MPI call did not return MPI_SUCCESS (the CLI sets
// MPI_ERRORS_RETURN on MPI_COMM_WORLD, so failures come back as codes).
void check_mpi(int code, std::string_view what);

}  // namespace mha::cli
