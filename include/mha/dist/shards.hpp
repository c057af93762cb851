// Which rows of a sequence each process holds under sequence parallelism, and the copies between a
// whole tensor and a process's shard of it. Pure index arithmetic: nothing here talks to MPI.
//
// A sequence of N rows over P ranks is cut into balanced chunks: chunk c of C holds
//   [c·⌊N/C⌋ + min(c, N mod C),  (c+1)·⌊N/C⌋ + min(c+1, N mod C))
// (the first N mod C chunks have one row more). Layout::contiguous uses C = P and gives rank r
// chunk r; Layout::zigzag uses C = 2P and gives rank r chunks r and 2P−1−r, so under causal
// attention every rank holds as many early rows (cheap: few keys) as late ones (Striped/zigzag
// ring attention): its work is within one chunk pair of every other rank's.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/core/tensor.hpp"

namespace mha::dist {

enum class Layout : std::uint8_t { contiguous, zigzag };

std::string_view layout_name(Layout layout);
// Parses "contiguous" / "zigzag"; throws mha::Error naming `argument` otherwise.
Layout parse_layout(std::string_view text, std::string_view argument = "layout");

struct RowRange {
  Index begin = 0, end = 0;
  Index size() const { return end - begin; }
};

// The global rows of `rank`'s shard, in the order the shard stores them (ascending). Throws
// mha::Error for ranks < 1, rank outside [0, ranks) or length < 0.
std::vector<RowRange> shard_rows(Index length, int ranks, int rank, Layout layout);
Index shard_length(Index length, int ranks, int rank, Layout layout);

// The global positions of `rank`'s rows, for EncoderInput::position_ids: [B, n] (every sequence
// of the batch has the same positions).
Tensor<std::int64_t> shard_positions(Index batch, Index length, int ranks, int rank, Layout layout);

// Copies `rank`'s rows of dimension `dim` of the whole tensor `global` (any strides).
template <typename T>
Tensor<T> take_shard(TensorView<const T> global, Index dim, int ranks, int rank, Layout layout);

// The inverse: writes the shard `local` (rows of dimension `dim`) into its place in `global`.
template <typename T>
void place_shard(TensorView<const T> local, TensorView<T> global, Index dim, int ranks, int rank,
                 Layout layout);

}  // namespace mha::dist
