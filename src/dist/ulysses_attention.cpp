// Ulysses: one all-to-all sends rank s the heads [s·H/P, (s+1)·H/P) of this rank's rows (and the
// matching kv heads, and the key bias), each rank attends over the whole sequence for its heads,
// and one all-to-all sends every rank its rows of every head back.
#include <chrono>

#include "dist/communicator.hpp"
#include "dist/plan.hpp"
#include "dist/shard_attention.hpp"

namespace mha::dist {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Copies the rows of a piece that holds rank u's shard (dimension 2, in shard order) into their
// global places in `whole`, or (back = true) the other way.
void scatter_rows(const Plan& p, Index length, int u, TensorView<float> piece, TensorView<float> whole,
                  bool back) {
  Index local = 0;
  for (const RowRange& c : shard_rows(length, p.ranks, u, p.layout)) {
    const TensorView<float> from = narrow(piece, 2, local, c.size()), to = narrow(whole, 2, c.begin, c.size());
    for (Index b = 0; b < from.dim(0); ++b)
      for (Index h = 0; h < from.dim(1); ++h)
        for (Index i = 0; i < from.dim(2); ++i)
          for (Index x = 0; x < from.dim(3); ++x) {
            if (back) from(b, h, i, x) = to(b, h, i, x);
            else to(b, h, i, x) = from(b, h, i, x);
          }
    local += c.size();
  }
}

struct Counts {
  std::vector<int> counts, displs;
  Index total = 0;
};

Counts layout_counts(const std::vector<Index>& floats) {
  Counts c;
  for (const Index n : floats) {
    c.counts.push_back(static_cast<int>(n));
    c.displs.push_back(static_cast<int>(c.total));
    c.total += n;
  }
  return c;
}

}  // namespace

void ulysses_attention(const Shard& shard, const Plan& p, const Communicator& comm,
                       const Context& ctx, Stats& stats) {
  const AttentionArgs& a = shard.args;
  const int ranks = p.ranks, rank = p.rank;
  const Index hq = p.heads / ranks, hk = p.kv_heads / ranks, B = p.batch;
  const Index bias_per_key = p.has_bias ? 1 : 0;
  const auto piece_in = [&](int u) {  // what rank u sends to each rank in the first all-to-all
    const Index nq = p.q_rows[static_cast<std::size_t>(u)], nk = p.k_rows[static_cast<std::size_t>(u)];
    return B * hq * nq * p.d + B * hk * nk * (p.d + p.dv) + B * nk * bias_per_key;
  };
  const auto piece_out = [&](int u) {  // what each rank sends back to rank u: its rows' out, lse
    return B * hq * p.q_rows[static_cast<std::size_t>(u)] * (p.dv + 1);
  };

  // 1. Sequence shards → head shards.
  std::vector<Index> send_floats, recv_floats;
  for (int u = 0; u < ranks; ++u) {
    send_floats.push_back(piece_in(rank));
    recv_floats.push_back(piece_in(u));
  }
  const Counts send = layout_counts(send_floats), recv = layout_counts(recv_floats);
  std::vector<float> send_buffer(static_cast<std::size_t>(send.total)), recv_buffer(static_cast<std::size_t>(recv.total));
  Clock::time_point start = Clock::now();
  for (int s = 0; s < ranks; ++s) {
    float* to = send_buffer.data() + send.displs[static_cast<std::size_t>(s)];
    to = pack(narrow(a.q, 1, s * hq, hq), to);
    to = pack(narrow(a.k, 1, s * hk, hk), to);
    to = pack(narrow(a.v, 1, s * hk, hk), to);
    std::copy(shard.bias.begin(), shard.bias.end(), to);
  }
  stats.compute_seconds += since(start);
  MPI_Request request = MPI_REQUEST_NULL;
  const std::string what_in = "in the all-to-all from sequence shards to head shards";
  comm.check(MPI_Ialltoallv(send_buffer.data(), send.counts.data(), send.displs.data(), MPI_FLOAT,
                            recv_buffer.data(), recv.counts.data(), recv.displs.data(), MPI_FLOAT,
                            comm.get(), &request),
             "MPI_Ialltoallv", what_in);
  stats.bytes_sent += (send.total - send_floats[static_cast<std::size_t>(rank)]) * static_cast<Index>(sizeof(float));
  stats.wait_seconds += comm.wait({&request, 1}, what_in, Communicator::Kind::collective);
  ++stats.steps;

  // 2. The whole sequence for this rank's heads.
  start = Clock::now();
  Tensor<> q({B, hq, p.q_length, p.d}), k({B, hk, p.k_length, p.d}), v({B, hk, p.k_length, p.dv});
  Tensor<> bias({B, p.k_length}), out({B, hq, p.q_length, p.dv}), lse({B, hq, p.q_length});
  for (int u = 0; u < ranks; ++u) {
    const Index nq = p.q_rows[static_cast<std::size_t>(u)], nk = p.k_rows[static_cast<std::size_t>(u)];
    float* from = recv_buffer.data() + recv.displs[static_cast<std::size_t>(u)];
    const auto take = [&](Shape shape) {
      TensorView<float> view(from, shape);
      from += numel_of(shape);
      return view;
    };
    scatter_rows(p, p.q_length, u, take({B, hq, nq, p.d}), q.view(), false);
    scatter_rows(p, p.k_length, u, take({B, hk, nk, p.d}), k.view(), false);
    scatter_rows(p, p.k_length, u, take({B, hk, nk, p.dv}), v.view(), false);
    if (p.has_bias)
      scatter_rows(p, p.k_length, u, take({B, 1, nk, 1}),
                   TensorView<float>(bias.data(), {B, 1, p.k_length, 1}), false);
  }
  AttentionArgs whole{.q = q.view(), .k = k.view(), .v = v.view(), .out = out.view(), .weights = {},
                      .lse = lse.view(),
                      .params = {.scale = p.scale, .causal = p.causal, .window_left = -1,
                                 .alignment = p.shift != 0 ? Alignment::bottom_right : Alignment::top_left,
                                 .masks = {}}};
  if (p.has_bias)
    whole.params.masks.push_back(additive_mask(TensorView<const float>(
        bias.data(), {B, hq, p.q_length, p.k_length}, {p.k_length, 0, 0, 1})));
  attention(whole, ctx);

  // 3. Head shards → sequence shards: rank u gets its rows of this rank's heads.
  send_floats.clear();
  recv_floats.clear();
  for (int u = 0; u < ranks; ++u) {
    send_floats.push_back(piece_out(u));
    recv_floats.push_back(piece_out(rank));
  }
  const Counts back_send = layout_counts(send_floats), back_recv = layout_counts(recv_floats);
  send_buffer.assign(static_cast<std::size_t>(back_send.total), 0.0f);
  recv_buffer.assign(static_cast<std::size_t>(back_recv.total), 0.0f);
  for (int u = 0; u < ranks; ++u) {
    const Index nq = p.q_rows[static_cast<std::size_t>(u)];
    float* to = send_buffer.data() + back_send.displs[static_cast<std::size_t>(u)];
    TensorView<float> out_piece(to, {B, hq, nq, p.dv}), lse_piece(to + B * hq * nq * p.dv, {B, hq, nq, 1});
    scatter_rows(p, p.q_length, u, out_piece, out.view(), true);
    scatter_rows(p, p.q_length, u, lse_piece, TensorView<float>(lse.data(), {B, hq, p.q_length, 1}), true);
  }
  stats.compute_seconds += since(start);
  const std::string what_out = "in the all-to-all from head shards back to sequence shards";
  comm.check(MPI_Ialltoallv(send_buffer.data(), back_send.counts.data(), back_send.displs.data(), MPI_FLOAT,
                            recv_buffer.data(), back_recv.counts.data(), back_recv.displs.data(), MPI_FLOAT,
                            comm.get(), &request),
             "MPI_Ialltoallv", what_out);
  stats.bytes_sent += (back_send.total - send_floats[static_cast<std::size_t>(rank)]) * static_cast<Index>(sizeof(float));
  stats.wait_seconds += comm.wait({&request, 1}, what_out, Communicator::Kind::collective);
  ++stats.steps;

  const Index nq = p.q_rows[static_cast<std::size_t>(rank)];
  for (int s = 0; s < ranks; ++s) {
    const float* from = recv_buffer.data() + back_recv.displs[static_cast<std::size_t>(s)];
    from = unpack(from, narrow(a.out, 1, s * hq, hq));
    if (a.lse.defined())
      unpack(from, TensorView<float>(a.lse.data() + s * hq * a.lse.stride(1), {B, hq, nq, 1},
                                     {a.lse.stride(0), a.lse.stride(1), a.lse.stride(2), 1}));
  }
}

}  // namespace mha::dist
