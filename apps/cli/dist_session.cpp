#include "dist_session.hpp"

#include <fmt/core.h>

#include <climits>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/dist/sequence_parallel.hpp"

namespace mha::cli {

void check_mpi(int code, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(fmt::format("--dist: {}: MPI error: {}", what, std::string_view(text, static_cast<std::size_t>(length))));
}

DistSession::DistSession() {
  int started = 0;
  MPI_Initialized(&started);
  if (started != 0) throw Error("--dist: MPI is already running in this process");
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error("--dist: MPI_Init_thread failed (is this mha started by mpirun?)");
  // Error codes instead of MPI's default abort, so that a failure becomes one mha::Error line.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks_);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error(fmt::format("--dist: MPI gives thread level {}, mha needs MPI_THREAD_FUNNELED ({})",
                            provided, MPI_THREAD_FUNNELED));
  }
}

DistSession::~DistSession() { MPI_Finalize(); }

void DistSession::all_or_none(const std::function<void()>& step, std::string_view what) const {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  // The lowest rank that failed (INT_MAX: none), agreed by a reduction every rank joins.
  int mine = error ? rank_ : INT_MAX, first_failed = INT_MAX;
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallreduce(&mine, &first_failed, 1, MPI_INT, MPI_MIN, comm(), &request), what);
  wait_bounded({&request, 1}, dist_timeout(), what);
  if (error) std::rethrow_exception(error);
  if (first_failed != INT_MAX)
    throw Error(fmt::format("--dist: {}: rank {} failed (its own message names the cause)", what,
                            first_failed));
}

std::chrono::milliseconds dist_timeout() { return dist::Options{}.timeout; }

void wait_bounded(std::span<MPI_Request> requests, std::chrono::milliseconds timeout,
                  std::string_view what, std::chrono::microseconds pause) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<MPI_Status> statuses(requests.size());
  for (;;) {
    int done = 0;
    check_mpi(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done,
                          statuses.data()),
              what);
    if (done != 0) return;
    if (std::chrono::steady_clock::now() > deadline) {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      throw Error(fmt::format(
          "--dist: rank {} waited {} s for {}: a rank has exited or is not taking part", rank,
          std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), what));
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

void bounded_barrier(MPI_Comm comm, std::chrono::milliseconds timeout, std::string_view what,
                     std::chrono::microseconds pause) {
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibarrier(comm, &request), what);
  wait_bounded({&request, 1}, timeout, what, pause);
}

std::vector<double> all_reduce(MPI_Comm comm, const std::vector<double>& mine, MPI_Op op,
                               std::string_view what) {
  std::vector<double> result(mine.size());
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallreduce(mine.data(), result.data(), static_cast<int>(mine.size()), MPI_DOUBLE,
                           op, comm, &request),
            what);
  wait_bounded({&request, 1}, dist_timeout(), what);
  return result;
}

}  // namespace mha::cli
