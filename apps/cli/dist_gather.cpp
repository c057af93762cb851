#include "dist_gather.hpp"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "dist_session.hpp"
#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

// MPI counts are int; a shard past that is refused rather than cut short.
int as_count(Index n) {
  if (n > INT_MAX)
    throw_invalid("--dist", "at most 2^31 - 1 output floats in all", std::to_string(n));
  return static_cast<int>(n);
}

}  // namespace

Tensor<> gather_shards(MPI_Comm comm, TensorView<const float> mine, const Shape& whole, Index dim,
                       dist::Layout layout, std::chrono::milliseconds timeout) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  // Every size from `whole`, the same on every rank (a shard may have no rows at all).
  const Index length = whole[static_cast<std::size_t>(dim)];
  const Index row_size = numel_of(whole) / std::max<Index>(length, 1);
  const Tensor<> sent = Tensor<>::copy_of(mine);  // contiguous, whatever `mine`'s strides
  std::vector<int> counts(static_cast<std::size_t>(ranks)), offsets(counts.size());
  Index total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    offsets[r] = as_count(total);
    counts[r] = as_count(dist::shard_length(length, ranks, static_cast<int>(r), layout) * row_size);
    total += counts[r];
  }
  std::vector<float> received(rank == 0 ? static_cast<std::size_t>(total) : 0);
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Igatherv(sent.data(), as_count(sent.numel()), MPI_FLOAT, received.data(),
                         counts.data(), offsets.data(), MPI_FLOAT, 0, comm, &request),
            "gathering the output rows on rank 0");
  wait_bounded({&request, 1}, timeout, "the output rows of every rank");
  if (rank != 0) return {};

  Tensor<> out(whole);
  for (std::size_t r = 0; r < counts.size(); ++r) {
    Shape shard_shape = whole;
    shard_shape[static_cast<std::size_t>(dim)] = counts[r] / std::max<Index>(row_size, 1);
    const TensorView<const float> shard(received.data() + offsets[r], shard_shape);
    dist::place_shard<float>(shard, out.view(), dim, ranks, static_cast<int>(r), layout);
  }
  return out;
}

}  // namespace mha::cli
