// Attention of one query chunk over one key chunk in global positions (split in
// dist/shard_attention.hpp).
#include "dist/shard_attention.hpp"

#include <algorithm>
#include <limits>

namespace mha::dist {
namespace {

// Query rows per kernel call: between two calls MPI gets to move the next block. 256 rows of
// 8 heads over 4096 keys are ~4 ms at 100 GFLOP/s, well under a block's transfer time.
constexpr Index kSlabRows = 256;

Index local_offset(const ChunkPair& p) { return p.q_pos + p.shift - p.k_pos; }

void fill_no_key(TensorView<float> out, TensorView<float> lse) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (Index b = 0; b < out.dim(0); ++b)
    for (Index h = 0; h < out.dim(1); ++h)
      for (Index i = 0; i < out.dim(2); ++i) {
        lse(b, h, i) = minus_inf;
        for (Index x = 0; x < out.dim(3); ++x) out(b, h, i, x) = 0.0f;
      }
}

// Rows [row_begin, row_end) of the pair over keys [0, keys), causal bottom-right or not.
void run_rows(const ChunkPair& p, Index row_begin, Index row_end, Index keys, bool causal,
              TensorView<float> out, TensorView<float> lse, const Context& ctx,
              const std::function<void()>& between) {
  for (Index r = row_begin; r < row_end; r += kSlabRows) {
    const Index rows = std::min(kSlabRows, row_end - r);
    // Causal: rows [r, r + rows) of a range whose bottom-right offset is keys − (row_end −
    // row_begin) have offset keys − (row_end − r); the keys past the slab's last row are never
    // allowed, so the slab is the kernel's bottom-right rule on its first offset + rows keys.
    const Index slab_keys = causal ? keys - (row_end - r) + rows : keys;
    AttentionArgs args{.q = narrow(p.q, 2, r, rows),
                       .k = narrow(p.k, 2, 0, slab_keys),
                       .v = narrow(p.v, 2, 0, slab_keys),
                       .out = narrow(out, 2, r, rows),
                       .weights = {},
                       .lse = narrow(lse, 2, r, rows),
                       .params = {.scale = p.scale, .causal = causal, .window_left = -1,
                                  .alignment = Alignment::bottom_right, .masks = {}}};
    if (p.bias.defined())
      args.params.masks.push_back(additive_mask(TensorView<const float>(
          p.bias.data(), {p.q.dim(0), p.q.dim(1), rows, slab_keys}, {p.bias.stride(0), 0, 0, 1})));
    attention(args, ctx);
    if (between) between();
  }
}

}  // namespace

bool pair_is_masked(const ChunkPair& p) {
  const Index nq = p.q.dim(2), nk = p.k.dim(2);
  if (nq == 0 || nk == 0) return true;
  return p.causal && nq - 1 + local_offset(p) < 0;  // even the last row sees no key
}

void attend_pair(const ChunkPair& p, TensorView<float> out, TensorView<float> lse,
                 const Context& ctx, const std::function<void()>& between) {
  const Index nq = p.q.dim(2), nk = p.k.dim(2);
  if (pair_is_masked(p)) return fill_no_key(out, lse);
  if (!p.causal) return run_rows(p, 0, nq, nk, false, out, lse, ctx, between);
  const Index d = local_offset(p);
  const Index i0 = std::clamp<Index>(-d, 0, nq);
  const Index i1 = std::clamp<Index>(nk - 1 - d, i0, nq);
  if (i0 > 0) fill_no_key(narrow(out, 2, 0, i0), narrow(lse, 2, 0, i0));
  if (i1 > i0) run_rows(p, i0, i1, i1 + d, true, out, lse, ctx, between);
  if (nq > i1) run_rows(p, i1, nq, nk, false, out, lse, ctx, between);
}

}  // namespace mha::dist
