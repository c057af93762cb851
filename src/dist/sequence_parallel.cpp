// SequenceParallel: agree on the call across ranks, then run the chosen algorithm
// (mha/dist/sequence_parallel.hpp).
#include "mha/dist/sequence_parallel.hpp"

#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <string>

#include "dist/communicator.hpp"
#include "dist/key_bias.hpp"
#include "dist/plan.hpp"

namespace mha::dist {
namespace {

using Clock = std::chrono::steady_clock;

// One rank's view of the call, gathered from every rank before anything is exchanged, so each rank
// decides from the same data and all throw the same error.
struct Descriptor {
  std::int64_t batch, heads, kv_heads, d, dv, q_rows, k_rows;
  std::int64_t causal, alignment, has_bias, algorithm, layout;
  double scale;
  char problem[240];  // this rank's own reason to refuse the call, or empty
};

Descriptor describe(const AttentionArgs& a, const Options& o, bool has_bias, const std::string& problem) {
  Descriptor d{};
  d.batch = a.q.dim(0);
  d.heads = a.q.dim(1);
  d.kv_heads = a.k.dim(1);
  d.d = a.q.dim(3);
  d.dv = a.v.dim(3);
  d.q_rows = a.q.dim(2);
  d.k_rows = a.k.dim(2);
  d.causal = a.params.causal ? 1 : 0;
  d.alignment = static_cast<std::int64_t>(a.params.alignment);
  d.has_bias = has_bias ? 1 : 0;
  d.algorithm = static_cast<std::int64_t>(o.algorithm);
  d.layout = static_cast<std::int64_t>(o.layout);
  d.scale = a.params.scale;
  std::strncpy(d.problem, problem.c_str(), sizeof(d.problem) - 1);
  return d;
}

std::string local_problem(const AttentionArgs& a) {
  if (a.weights.defined())
    return "weights: none under sequence parallelism (no rank holds a whole row of them)";
  if (a.params.window_left != -1)
    return "window_left: -1 (a sliding window is not supported under sequence parallelism), got " +
           std::to_string(a.params.window_left);
  return {};
}

[[noreturn]] void refuse(int rank, const std::string& text) {
  throw Error("rank " + std::to_string(rank) + ": " + text);
}

// Every rank runs this on the same gathered descriptors: the same plan or the same error.
Plan agree(const std::vector<Descriptor>& all, const Options& o, int rank) {
  const int ranks = static_cast<int>(all.size());
  for (int u = 0; u < ranks; ++u)
    if (all[static_cast<std::size_t>(u)].problem[0] != '\0') refuse(u, all[static_cast<std::size_t>(u)].problem);
  const Descriptor& first = all[0];
  for (int u = 1; u < ranks; ++u) {
    const Descriptor& x = all[static_cast<std::size_t>(u)];
    const auto differ = [&](const char* name, std::int64_t mine, std::int64_t theirs) {
      if (mine != theirs)
        refuse(u, std::string(name) + " = " + std::to_string(mine) + " where rank 0 has " +
                      std::to_string(theirs) + " (every rank calls attention with the same sizes and parameters)");
    };
    differ("batch", x.batch, first.batch);
    differ("query heads", x.heads, first.heads);
    differ("kv heads", x.kv_heads, first.kv_heads);
    differ("head_dim", x.d, first.d);
    differ("value head_dim", x.dv, first.dv);
    differ("causal", x.causal, first.causal);
    differ("alignment", x.alignment, first.alignment);
    differ("masks (a key bias)", x.has_bias, first.has_bias);
    differ("algorithm", x.algorithm, first.algorithm);
    differ("layout", x.layout, first.layout);
    if (std::memcmp(&x.scale, &first.scale, sizeof(double)) != 0)
      refuse(u, "scale = " + std::to_string(x.scale) + " where rank 0 has " + std::to_string(first.scale));
  }
  Plan p;
  p.batch = first.batch;
  p.heads = first.heads;
  p.kv_heads = first.kv_heads;
  p.d = first.d;
  p.dv = first.dv;
  p.has_bias = first.has_bias != 0;
  p.causal = first.causal != 0;
  p.scale = first.scale;
  p.layout = o.layout;
  p.ranks = ranks;
  p.rank = rank;
  for (const Descriptor& x : all) {
    p.q_rows.push_back(x.q_rows);
    p.k_rows.push_back(x.k_rows);
    p.q_length += x.q_rows;
    p.k_length += x.k_rows;
  }
  if (static_cast<Alignment>(first.alignment) == Alignment::bottom_right) p.shift = p.k_length - p.q_length;
  for (int u = 0; u < ranks; ++u)
    for (const auto& [name, rows, length] : {std::tuple{"q", p.q_rows[static_cast<std::size_t>(u)], p.q_length},
                                             std::tuple{"k", p.k_rows[static_cast<std::size_t>(u)], p.k_length}}) {
      const Index expected = shard_length(length, ranks, u, o.layout);
      if (rows != expected)
        refuse(u, std::string(name) + " holds " + std::to_string(rows) + " rows where its " +
                      std::string(layout_name(o.layout)) + " shard of " + std::to_string(length) +
                      " rows over " + std::to_string(ranks) + " ranks holds " + std::to_string(expected) +
                      " (mha::dist::take_shard cuts a shard)");
    }
  if (o.algorithm == Algorithm::ulysses && p.kv_heads % ranks != 0)
    refuse(rank, "kv heads: expected a multiple of the " + std::to_string(ranks) +
                     " ranks (the ulysses algorithm shards the heads; ring has no such need), got " +
                     std::to_string(p.kv_heads));
  // MPI counts are int: the largest message is a rank's K/V block (ring) or all of its Q, K, V.
  Index largest = 0;
  for (int u = 0; u < ranks; ++u)
    largest = std::max(largest, p.batch * (p.heads * p.q_rows[static_cast<std::size_t>(u)] * p.d +
                                           p.kv_heads * p.k_rows[static_cast<std::size_t>(u)] * (p.d + p.dv + 1)));
  if (largest > INT_MAX)
    refuse(rank, "a message of " + std::to_string(largest) + " floats; MPI counts stop at " +
                     std::to_string(INT_MAX) + " (use more ranks)");
  return p;
}

}  // namespace

std::string_view algorithm_name(Algorithm algorithm) {
  return algorithm == Algorithm::ulysses ? "ulysses" : "ring";
}

Algorithm parse_algorithm(std::string_view text, std::string_view argument) {
  if (text == "ring") return Algorithm::ring;
  if (text == "ulysses") return Algorithm::ulysses;
  throw_invalid(std::string(argument), "one of ring, ulysses", "'" + std::string(text) + "'");
}

struct SequenceParallel::State {
  Options options;
  Communicator comm;
  mutable std::mutex mutex;  // guards what follows and serialises calls (one exchange at a time)
  mutable Stats stats;
  // The agreement's buffers live here, not on the stack: after a timeout the pending collective
  // may still complete (a late rank joins it) and write into them.
  mutable Descriptor mine{};
  mutable std::vector<Descriptor> all;
  mutable std::string gave_up;  // why an earlier call timed out; later calls refuse to run

  State(MPI_Comm c, const Options& o) : options(o), comm(c, o.timeout) {}
};

namespace {
const Options& checked(const Options& o) {
  if (o.timeout.count() <= 0)
    throw_invalid("timeout", "a positive duration", std::to_string(o.timeout.count()) + " ms");
  return o;
}
}  // namespace

SequenceParallel::SequenceParallel(MPI_Comm comm, Options options)
    : state_(std::make_unique<State>(comm, checked(options))) {}
SequenceParallel::~SequenceParallel() = default;

int SequenceParallel::rank() const { return state_->comm.rank(); }
int SequenceParallel::ranks() const { return state_->comm.size(); }
const Options& SequenceParallel::options() const { return state_->options; }
MPI_Comm SequenceParallel::communicator() const { return state_->comm.get(); }

Stats SequenceParallel::last_stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

void SequenceParallel::attention(const AttentionArgs& shard, const Context& ctx) const {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  if (!s.gave_up.empty())
    throw Error("rank " + std::to_string(s.comm.rank()) + ": this mha::dist::SequenceParallel gave up " +
                "after an earlier timeout (" + s.gave_up + "); its ranks are out of step");
  const Clock::time_point start = Clock::now();
  const Communicator& comm = s.comm;
  Stats stats;

  std::string problem = local_problem(shard);
  std::optional<std::vector<float>> bias;
  if (problem.empty()) bias = key_bias(shard.params.masks, shard.q.dim(0), shard.k.dim(2), problem);
  try {
    s.mine = describe(shard, s.options, bias.has_value(), problem);
    s.all.assign(static_cast<std::size_t>(comm.size()), Descriptor{});
    MPI_Request request = MPI_REQUEST_NULL;
    const std::string what = "agreeing on the attention call's sizes with every rank";
    comm.check(MPI_Iallgather(&s.mine, sizeof(Descriptor), MPI_BYTE, s.all.data(), sizeof(Descriptor),
                              MPI_BYTE, comm.get(), &request),
               "MPI_Iallgather", what);
    stats.agreement_seconds = comm.wait({&request, 1}, what, Communicator::Kind::collective);
    const Plan plan = agree(s.all, s.options, comm.rank());
    const std::vector<float> no_bias;
    const Shard local{shard, bias ? *bias : no_bias};
    if (comm.size() == 1) {  // the whole sequence is here: the plain kernel, nothing to merge
      const Clock::time_point compute = Clock::now();
      mha::attention(shard, ctx);
      stats.compute_seconds = std::chrono::duration<double>(Clock::now() - compute).count();
    } else if (s.options.algorithm == Algorithm::ulysses) ulysses_attention(local, plan, comm, ctx, stats);
    else ring_attention(local, plan, comm, ctx, stats);
  } catch (const TimeoutError& e) {
    s.gave_up = e.what();
    throw;
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.stats = stats;
}

}  // namespace mha::dist
