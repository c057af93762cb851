// The communication of sequence-parallel attention measured on its own, with no compute to hide
// behind: what `mha bench --dist` compares the wait of the real run with, and the link figures
// the cost model (docs/distributed.md) takes. Every rank of `comm` calls each probe, which
// returns the same figures on every rank. Waits are bounded (dist_session.hpp).
#pragma once

#include <mpi.h>

#include <cstdint>

namespace mha::cli {

// The ring's exchange alone: P − 1 shifts of a `block_bytes` message, each rank sending to
// rank + 1 and receiving from rank − 1 (mod P) before the next shift, as the ring passes its
// key/value blocks. Seconds: the median over `repeats` of the slowest rank's time; 0 for P = 1.
double time_ring_exchange(MPI_Comm comm, std::int64_t block_bytes, int repeats);

// Ulysses' exchange alone: an all-to-all of `in_bytes` per rank (each peer gets 1/P of it: the
// local Q, K, V), then one of `out_bytes` (the output heads going back). Seconds as above.
double time_ulysses_exchange(MPI_Comm comm, std::int64_t in_bytes, std::int64_t out_bytes,
                             int repeats);

struct LinkProbe {
  double bandwidth_gbps = 0;  // 10⁹ bytes/s for one message of the probed size, latency included
  double latency_us = 0;      // half the round trip of a 1-byte message
};

// Ping-pong between ranks 0 and 1 (the others wait in a barrier). Needs P ≥ 2.
LinkProbe probe_link(MPI_Comm comm, std::int64_t bytes, int repeats);

}  // namespace mha::cli
