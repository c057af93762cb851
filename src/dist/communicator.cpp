// Checked MPI calls and bounded waits (mha/dist/sequence_parallel.hpp says why).
#include "dist/communicator.hpp"

#include <thread>

#include "mha/core/error.hpp"

namespace mha::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::string mpi_message(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, static_cast<std::size_t>(length));
}

}  // namespace

Communicator::Communicator(MPI_Comm comm, std::chrono::milliseconds timeout) : timeout_(timeout) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw_invalid("MPI", "MPI_Init called before mha::dist is used", "not initialized");
  // Errors on the caller's communicator come back as codes while we duplicate it; the duplicate
  // inherits the handler, and we set it again on it below.
  MPI_Errhandler caller_handler;
  MPI_Comm_get_errhandler(comm, &caller_handler);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = MPI_Comm_idup(comm, &comm_, &request);
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
  try {
    if (rc != MPI_SUCCESS) throw Error("rank " + std::to_string(rank_) + ": MPI_Comm_idup failed: " + mpi_message(rc));
    wait({&request, 1}, "duplicating the communicator (every rank must construct mha::dist::SequenceParallel)",
         Kind::collective);
  } catch (...) {
    MPI_Comm_set_errhandler(comm, caller_handler);
    MPI_Errhandler_free(&caller_handler);
    throw;
  }
  MPI_Comm_set_errhandler(comm, caller_handler);
  MPI_Errhandler_free(&caller_handler);
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void Communicator::check(int rc, const char* call, const std::string& what) const {
  if (rc == MPI_SUCCESS) return;
  throw Error("rank " + std::to_string(rank_) + ": " + call + " failed (" + what + "): " + mpi_message(rc));
}

bool Communicator::test(std::span<MPI_Request> requests, const std::string& what) const {
  if (requests.empty()) return true;
  int done = 0;
  check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall", what);
  return done != 0;
}

double Communicator::wait(std::span<MPI_Request> requests, const std::string& what, Kind kind) const {
  const Clock::time_point start = Clock::now(), deadline = start + timeout_;
  for (int polls = 0; !test(requests, what); ++polls) {
    if (Clock::now() > deadline) {
      if (kind == Kind::point_to_point)
        for (MPI_Request& r : requests)
          if (r != MPI_REQUEST_NULL && MPI_Cancel(&r) == MPI_SUCCESS) MPI_Request_free(&r);
      const double seconds = static_cast<double>(timeout_.count()) / 1000.0;
      throw TimeoutError("rank " + std::to_string(rank_) + ": no progress after " +
                  std::to_string(seconds).substr(0, std::to_string(seconds).find('.') + 2) +
                  " s " + what + ": a rank has exited, failed or is not calling the same operation");
    }
    if (polls < 1000) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace mha::dist
