// Balanced chunks and the shard copies (formulas in mha/dist/shards.hpp).
#include "mha/dist/shards.hpp"

#include <algorithm>
#include <string>

namespace mha::dist {
namespace {

// Chunk c of `chunks` over `length` rows: the first length mod chunks chunks get one row more.
RowRange chunk(Index length, Index chunks, Index c) {
  const Index base = length / chunks, extra = length % chunks;
  return {c * base + std::min(c, extra), (c + 1) * base + std::min(c + 1, extra)};
}

void check_group(Index length, int ranks, int rank) {
  if (ranks < 1) throw_invalid("ranks", "at least 1", std::to_string(ranks));
  if (rank < 0 || rank >= ranks)
    throw_invalid("rank", "in [0, " + std::to_string(ranks) + ")", std::to_string(rank));
  if (length < 0) throw_invalid("length", "0 or more rows", std::to_string(length));
}

void check_dim(const Shape& shape, Index dim, const std::string& name) {
  if (dim < 0 || dim >= static_cast<Index>(shape.size()))
    throw_invalid("dim", "a dimension of " + name + " " + shape_str(shape), std::to_string(dim));
}

// Visits every element of `view` in row-major order with its flat index.
template <typename T, typename F>
void for_each_index(const Shape& shape, F&& f) {
  Index total = 1;
  for (const Index d : shape) total *= d;
  Shape idx(shape.size(), 0);
  for (Index n = 0; n < total; ++n) {
    f(idx);
    for (Index d = static_cast<Index>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
  }
}

template <typename T>
Index offset(const TensorView<T>& view, const Shape& idx) {
  Index o = 0;
  for (std::size_t d = 0; d < idx.size(); ++d) o += idx[d] * view.strides()[d];
  return o;
}

}  // namespace

std::string_view layout_name(Layout layout) {
  return layout == Layout::zigzag ? "zigzag" : "contiguous";
}

Layout parse_layout(std::string_view text, std::string_view argument) {
  if (text == "contiguous") return Layout::contiguous;
  if (text == "zigzag") return Layout::zigzag;
  throw_invalid(std::string(argument), "one of contiguous, zigzag", "'" + std::string(text) + "'");
}

std::vector<RowRange> shard_rows(Index length, int ranks, int rank, Layout layout) {
  check_group(length, ranks, rank);
  if (layout == Layout::contiguous) return {chunk(length, ranks, rank)};
  const Index chunks = 2 * Index{ranks};
  return {chunk(length, chunks, rank), chunk(length, chunks, chunks - 1 - rank)};
}

Index shard_length(Index length, int ranks, int rank, Layout layout) {
  Index n = 0;
  for (const RowRange& r : shard_rows(length, ranks, rank, layout)) n += r.size();
  return n;
}

Tensor<std::int64_t> shard_positions(Index batch, Index length, int ranks, int rank, Layout layout) {
  if (batch < 1) throw_invalid("batch", "at least 1", std::to_string(batch));
  const std::vector<RowRange> rows = shard_rows(length, ranks, rank, layout);
  Tensor<std::int64_t> positions({batch, shard_length(length, ranks, rank, layout)});
  for (Index b = 0; b < batch; ++b) {
    Index i = 0;
    for (const RowRange& r : rows)
      for (Index p = r.begin; p < r.end; ++p) positions(b, i++) = p;
  }
  return positions;
}

template <typename T>
Tensor<T> take_shard(TensorView<const T> global, Index dim, int ranks, int rank, Layout layout) {
  check_dim(global.shape(), dim, "global");
  const Index length = global.dim(dim);
  const std::vector<RowRange> rows = shard_rows(length, ranks, rank, layout);
  Shape shape = global.shape();
  shape[static_cast<std::size_t>(dim)] = shard_length(length, ranks, rank, layout);
  Tensor<T> local(shape);
  // The local row l of dimension `dim` is global row local_to_global[l].
  std::vector<Index> local_to_global;
  for (const RowRange& r : rows)
    for (Index p = r.begin; p < r.end; ++p) local_to_global.push_back(p);
  T* out = local.data();
  for_each_index<T>(shape, [&](Shape& idx) {
    const Index l = idx[static_cast<std::size_t>(dim)];
    idx[static_cast<std::size_t>(dim)] = local_to_global[static_cast<std::size_t>(l)];
    *out++ = global.data()[offset(global, idx)];
    idx[static_cast<std::size_t>(dim)] = l;
  });
  return local;
}

template <typename T>
void place_shard(TensorView<const T> local, TensorView<T> global, Index dim, int ranks, int rank,
                 Layout layout) {
  check_dim(global.shape(), dim, "global");
  const Index length = global.dim(dim);
  Shape expected = global.shape();
  expected[static_cast<std::size_t>(dim)] = shard_length(length, ranks, rank, layout);
  if (local.shape() != expected)
    throw_invalid("local", "shape " + shape_str(expected) + " (rank " + std::to_string(rank) +
                               "'s shard of " + shape_str(global.shape()) + ")",
                  shape_str(local.shape()));
  std::vector<Index> local_to_global;
  for (const RowRange& r : shard_rows(length, ranks, rank, layout))
    for (Index p = r.begin; p < r.end; ++p) local_to_global.push_back(p);
  for_each_index<T>(expected, [&](Shape& idx) {
    const T value = local.data()[offset(local, idx)];
    const Index l = idx[static_cast<std::size_t>(dim)];
    idx[static_cast<std::size_t>(dim)] = local_to_global[static_cast<std::size_t>(l)];
    global.data()[offset(global, idx)] = value;
    idx[static_cast<std::size_t>(dim)] = l;
  });
}

template Tensor<float> take_shard(TensorView<const float>, Index, int, int, Layout);
template Tensor<std::int64_t> take_shard(TensorView<const std::int64_t>, Index, int, int, Layout);
template Tensor<std::uint8_t> take_shard(TensorView<const std::uint8_t>, Index, int, int, Layout);
template void place_shard(TensorView<const float>, TensorView<float>, Index, int, int, Layout);
template void place_shard(TensorView<const std::int64_t>, TensorView<std::int64_t>, Index, int, int, Layout);
template void place_shard(TensorView<const std::uint8_t>, TensorView<std::uint8_t>, Index, int, int, Layout);

}  // namespace mha::dist
