#include "dist_probes.hpp"

#include <chrono>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "bench_decode.hpp"  // median_of
#include "dist_session.hpp"
#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

using Clock = std::chrono::steady_clock;
// The probes' own waits spin (pause 0): a sleep would add its length to every message timed.
constexpr std::chrono::microseconds spin{0};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Messages are counted in floats (what the library sends), in MPI's int counts.
int float_count(std::int64_t bytes) {
  const std::int64_t floats = bytes / static_cast<std::int64_t>(sizeof(float));
  if (floats > INT_MAX)
    throw_invalid("--shape", "a message of at most 2^31 - 1 floats per rank",
                  std::to_string(floats) + " floats");
  return static_cast<int>(floats);
}

// The median over runs of the slowest rank's time, agreed by every rank in one reduction.
double median_of_slowest(MPI_Comm comm, const std::vector<double>& mine) {
  return median_of(all_reduce(comm, mine, MPI_MAX, "the slowest rank's times"));
}

// Runs `exchange` once to warm up (connections, page faults of the buffers), then `repeats`
// timed times, each from a common start.
template <class F>
double time_runs(MPI_Comm comm, int repeats, F&& exchange) {
  std::vector<double> times;
  for (int run = 0; run <= repeats; ++run) {
    bounded_barrier(comm, dist_timeout(), "the start of an exchange", spin);
    const auto start = Clock::now();
    exchange();
    if (run > 0) times.push_back(seconds_since(start));
  }
  return median_of_slowest(comm, times);
}

}  // namespace

double time_ring_exchange(MPI_Comm comm, std::int64_t block_bytes, int repeats) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  if (ranks == 1) return 0;
  const int count = float_count(block_bytes);
  std::vector<float> held(static_cast<std::size_t>(count), 1.0f), next(held.size());
  const int to = (rank + 1) % ranks, from = (rank + ranks - 1) % ranks;
  return time_runs(comm, repeats, [&] {
    for (int shift = 0; shift + 1 < ranks; ++shift) {
      MPI_Request requests[2];
      check_mpi(MPI_Irecv(next.data(), count, MPI_FLOAT, from, shift, comm, &requests[0]),
                "a ring shift");
      check_mpi(MPI_Isend(held.data(), count, MPI_FLOAT, to, shift, comm, &requests[1]),
                "a ring shift");
      wait_bounded(requests, dist_timeout(), "a block of the ring exchange", spin);
      std::swap(held, next);
    }
  });
}

double time_ulysses_exchange(MPI_Comm comm, std::int64_t in_bytes, std::int64_t out_bytes,
                             int repeats) {
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  if (ranks == 1) return 0;
  const int in_each = float_count(in_bytes / ranks), out_each = float_count(out_bytes / ranks);
  const auto size = [&](int each) { return static_cast<std::size_t>(each) * static_cast<std::size_t>(ranks); };
  std::vector<float> in_send(size(in_each), 1.0f), in_recv(in_send.size());
  std::vector<float> out_send(size(out_each), 1.0f), out_recv(out_send.size());
  const auto all_to_all = [&](std::vector<float>& send, std::vector<float>& recv, int each) {
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ialltoall(send.data(), each, MPI_FLOAT, recv.data(), each, MPI_FLOAT, comm,
                            &request),
              "an all-to-all");
    wait_bounded({&request, 1}, dist_timeout(), "an all-to-all of the ulysses exchange", spin);
  };
  return time_runs(comm, repeats, [&] {
    all_to_all(in_send, in_recv, in_each);
    all_to_all(out_send, out_recv, out_each);
  });
}

LinkProbe probe_link(MPI_Comm comm, std::int64_t bytes, int repeats) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const int large = float_count(bytes);
  std::vector<char> buffer(static_cast<std::size_t>(std::max(large, 1)) * sizeof(float));
  // The median round trip of `count` floats (0: one byte), seen by rank 0 (0 elsewhere).
  const auto round_trip = [&](int count, int trips) {
    const MPI_Datatype type = count == 0 ? MPI_BYTE : MPI_FLOAT;
    const int n = count == 0 ? 1 : count;
    std::vector<double> times;
    for (int trip = 0; trip <= trips; ++trip) {  // trip 0 warms up
      const auto start = Clock::now();
      MPI_Request request = MPI_REQUEST_NULL;
      if (rank == 0) {
        check_mpi(MPI_Isend(buffer.data(), n, type, 1, trip, comm, &request), "the ping");
        wait_bounded({&request, 1}, dist_timeout(), "the ping to rank 1", spin);
        check_mpi(MPI_Irecv(buffer.data(), n, type, 1, trip, comm, &request), "the pong");
        wait_bounded({&request, 1}, dist_timeout(), "the pong from rank 1", spin);
      } else if (rank == 1) {
        check_mpi(MPI_Irecv(buffer.data(), n, type, 0, trip, comm, &request), "the ping");
        wait_bounded({&request, 1}, dist_timeout(), "the ping from rank 0", spin);
        check_mpi(MPI_Isend(buffer.data(), n, type, 0, trip, comm, &request), "the pong");
        wait_bounded({&request, 1}, dist_timeout(), "the pong to rank 0", spin);
      }
      if (trip > 0) times.push_back(seconds_since(start));
    }
    return rank <= 1 ? median_of(times) : 0.0;
  };
  double figures[2] = {0, 0};
  if (rank <= 1) {
    const double small = round_trip(0, 200), big = round_trip(large, std::max(repeats, 10));
    figures[0] = static_cast<double>(bytes) / (big / 2) * 1e-9;
    figures[1] = small / 2 * 1e6;
  }
  // Rank 0's figures for everyone; the ranks not in the ping-pong idle here meanwhile.
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibcast(figures, 2, MPI_DOUBLE, 0, comm, &request), "the link figures");
  wait_bounded({&request, 1}, dist_timeout(), "the link figures from rank 0");
  return {.bandwidth_gbps = figures[0], .latency_us = figures[1]};
}

}  // namespace mha::cli
