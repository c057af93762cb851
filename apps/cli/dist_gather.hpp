// The whole tensor on rank 0 from every rank's shard of one dimension: what `mha attend --dist`
// writes and what `mha bench --dist` checks against the single-process output.
#pragma once

#include <mpi.h>

#include <chrono>

#include "mha/core/tensor.hpp"
#include "mha/dist/shards.hpp"

namespace mha::cli {

// `mine` is this rank's shard (rows of dimension `dim` as mha::dist::take_shard gives them) of a
// tensor of shape `whole`. Rank 0 gets the whole tensor, the other ranks an absent one. The
// gather is one MPI_Igatherv under a bounded wait (dist_session.hpp): a rank that never sends
// makes rank 0 throw mha::Error after `timeout`, not hang.
Tensor<> gather_shards(MPI_Comm comm, TensorView<const float> mine, const Shape& whole, Index dim,
                       dist::Layout layout, std::chrono::milliseconds timeout);

}  // namespace mha::cli
