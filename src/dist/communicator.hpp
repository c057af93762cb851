// mha's own duplicate of an MPI communicator: every MPI call checked (MPI_ERRORS_RETURN, the
// error string in an mha::Error), and every wait bounded by a deadline, so that a rank that has
// exited or does not take part turns into an error on the others instead of a hang.
#pragma once

#include <mpi.h>

#include <chrono>
#include <span>
#include <string>

#include "mha/core/error.hpp"

namespace mha::dist {

// A bounded wait ran out: the ranks are out of step, and the communicator's pending operations
// may still complete later.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  // Collective over `comm` (MPI_Comm_idup, bounded by `timeout`).
  Communicator(MPI_Comm comm, std::chrono::milliseconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Throws mha::Error "rank r: MPI_X failed (what): <MPI's message>" unless rc is MPI_SUCCESS.
  void check(int rc, const char* call, const std::string& what) const;
  // Tests the requests without blocking (drives MPI's progress engine): true when all are done.
  bool test(std::span<MPI_Request> requests, const std::string& what) const;
  // Waits for all, polling (a short spin, then sleeps of 50 µs, so an oversubscribed core is not
  // burned), until the timeout; then throws TimeoutError naming `what` (which should name the
  // peer), after cancelling the requests if they are point-to-point. A pending collective cannot
  // be cancelled (MPI-3 §5.12: MPI_Cancel on it is an error, reported on MPI_COMM_WORLD), so it
  // is left to complete or to MPI_Finalize. Returns the seconds spent waiting.
  enum class Kind { point_to_point, collective };
  double wait(std::span<MPI_Request> requests, const std::string& what,
              Kind kind = Kind::point_to_point) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::chrono::milliseconds timeout_;
};

}  // namespace mha::dist
