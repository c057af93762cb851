// Ring attention: P steps; at step t rank r holds the key/value block of rank (r − t) mod P,
// sends it on to r + 1 while receiving the next from r − 1 into the other buffer, and merges the
// block's partial attention into its running (out, lse) by log-sum-exp.
#include <algorithm>
#include <chrono>
#include <limits>

#include "dist/communicator.hpp"
#include "dist/plan.hpp"
#include "dist/shard_attention.hpp"
#include "mha/kernels/attention_merge.hpp"

namespace mha::dist {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The floats of rank u's block: K [B, Hkv, nk, D], V [B, Hkv, nk, Dv], then the bias [B, nk].
Index block_floats(const Plan& p, int u) {
  const Index nk = p.k_rows[static_cast<std::size_t>(u)];
  return p.batch * p.kv_heads * nk * (p.d + p.dv) + (p.has_bias ? p.batch * nk : 0);
}

struct Block {
  TensorView<const float> k, v, bias;
};

Block block_views(const Plan& p, int u, const float* data) {
  const Index nk = p.k_rows[static_cast<std::size_t>(u)];
  const float* v = data + p.batch * p.kv_heads * nk * p.d;
  const float* bias = v + p.batch * p.kv_heads * nk * p.dv;
  return {TensorView<const float>(data, {p.batch, p.kv_heads, nk, p.d}),
          TensorView<const float>(v, {p.batch, p.kv_heads, nk, p.dv}),
          p.has_bias ? TensorView<const float>(bias, {p.batch, nk}) : TensorView<const float>{}};
}

}  // namespace

void ring_attention(const Shard& shard, const Plan& p, const Communicator& comm,
                    const Context& ctx, Stats& stats) {
  const AttentionArgs& a = shard.args;
  const int ranks = p.ranks, rank = p.rank;
  const int right = (rank + 1) % ranks, left = (rank + ranks - 1) % ranks;
  Index largest = 0;
  for (int u = 0; u < ranks; ++u) largest = std::max(largest, block_floats(p, u));
  std::vector<float> buffers[2] = {std::vector<float>(static_cast<std::size_t>(largest)),
                                   std::vector<float>(static_cast<std::size_t>(largest))};
  {
    float* end = pack(a.v, pack(a.k, buffers[0].data()));
    std::copy(shard.bias.begin(), shard.bias.end(), end);
  }

  // The running state of this rank's query rows, and one chunk's partial result.
  const Index nq = a.q.dim(2);
  Tensor<> acc_out({p.batch, p.heads, nq, p.dv}), acc_lse({p.batch, p.heads, nq});
  std::fill(acc_lse.values().begin(), acc_lse.values().end(), -std::numeric_limits<float>::infinity());
  const std::vector<RowRange> q_chunks = shard_rows(p.q_length, ranks, rank, p.layout);
  Index widest = 0;
  for (const RowRange& c : q_chunks) widest = std::max(widest, c.size());
  Tensor<> part_out({p.batch, p.heads, widest, p.dv}), part_lse({p.batch, p.heads, widest});

  for (int step = 0; step < ranks; ++step) {
    const int source = (rank - step + ranks) % ranks, next_source = (source + ranks - 1) % ranks;
    const float* held = buffers[step % 2].data();
    MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    const std::string what = "in ring step " + std::to_string(step + 1) + " of " +
                             std::to_string(ranks) + " (keys and values from rank " +
                             std::to_string(left) + ", to rank " + std::to_string(right) + ")";
    if (step + 1 < ranks) {
      comm.check(MPI_Irecv(buffers[(step + 1) % 2].data(), static_cast<int>(block_floats(p, next_source)),
                           MPI_FLOAT, left, step, comm.get(), &requests[0]),
                 "MPI_Irecv", what);
      comm.check(MPI_Isend(held, static_cast<int>(block_floats(p, source)), MPI_FLOAT, right, step,
                           comm.get(), &requests[1]),
                 "MPI_Isend", what);
      stats.bytes_sent += block_floats(p, source) * static_cast<Index>(sizeof(float));
    }
    const auto progress = [&] { comm.test(requests, what); };
    progress();  // match the messages now, so the transfer can run while the first slab computes

    const Clock::time_point start = Clock::now();
    const Block block = block_views(p, source, held);
    Index q_local = 0;
    for (const RowRange& qc : q_chunks) {
      Index k_local = 0;
      for (const RowRange& kc : shard_rows(p.k_length, ranks, source, p.layout)) {
        const ChunkPair pair{.q = narrow(a.q, 2, q_local, qc.size()),
                             .k = narrow(block.k, 2, k_local, kc.size()),
                             .v = narrow(block.v, 2, k_local, kc.size()),
                             .bias = p.has_bias ? narrow(block.bias, 1, k_local, kc.size())
                                                : TensorView<const float>{},
                             .q_pos = qc.begin, .k_pos = kc.begin, .shift = p.shift,
                             .scale = p.scale, .causal = p.causal};
        k_local += kc.size();
        if (pair_is_masked(pair)) continue;
        const TensorView<float> out = narrow(part_out.view(), 2, 0, qc.size());
        const TensorView<float> lse = narrow(part_lse.view(), 2, 0, qc.size());
        attend_pair(pair, out, lse, ctx, progress);
        merge_attention(narrow(acc_out.view(), 2, q_local, qc.size()),
                        narrow(acc_lse.view(), 2, q_local, qc.size()), out, lse);
        progress();
      }
      q_local += qc.size();
    }
    stats.compute_seconds += since(start);
    stats.wait_seconds += comm.wait(requests, what);
    ++stats.steps;
  }

  unpack(acc_out.data(), a.out);
  if (a.lse.defined()) unpack(acc_lse.data(), TensorView<float>(a.lse.data(), {p.batch, p.heads, nq, 1},
                                                                {a.lse.stride(0), a.lse.stride(1), a.lse.stride(2), 1}));
}

}  // namespace mha::dist
