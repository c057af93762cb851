#include "dist_attend.hpp"

#include "dist_gather.hpp"
#include "dist_session.hpp"
#include "mha/core/error.hpp"
#include "mha/dist/sequence_parallel.hpp"
#include "mha/dist/shards.hpp"

namespace mha::cli {
namespace {

// The sequence dimension of a query, key or value input: (L, B, E) and unbatched (L, E) keep
// it first, batch-first (B, L, E) second.
Index sequence_dim(TensorView<const float> input, bool batch_first) {
  return input.rank() == 3 && batch_first ? 1 : 0;
}

// This rank's columns of a key padding mask ((B, S) or unbatched (S): the keys are the last
// dimension), with the storage the shard's Mask views.
struct MaskShard {
  BoolTensor flags;
  Tensor<> values;

  Mask take(const Mask& whole, int ranks, int rank, dist::Layout layout) {
    const Index dim = static_cast<Index>(whole.shape().size()) - 1;
    Mask shard = whole;
    if (whole.kind == MaskKind::additive) {
      values = dist::take_shard<float>(whole.values, dim, ranks, rank, layout);
      shard.values = values.view();
    } else {
      flags = dist::take_shard<std::uint8_t>(whole.flags, dim, ranks, rank, layout);
      shard.flags = flags.view();
    }
    return shard;
  }
};

}  // namespace

struct DistAttend::State {
  explicit State(const dist::Options& parsed) : options(parsed) {}
  dist::Options options;
  DistSession session;  // declared before `sp`, so the communicator is freed before MPI_Finalize
  std::unique_ptr<dist::SequenceParallel> sp;
};

DistAttend::DistAttend(const DistFlags& flags)
    // The flags are parsed before MPI starts, so a typo fails without it.
    : state_(std::make_unique<State>(
          dist::Options{.algorithm = dist::parse_algorithm(flags.algorithm, "--dist"),
                        .layout = dist::parse_layout(flags.layout, "--layout")})) {}

DistAttend::~DistAttend() = default;

int DistAttend::rank() const { return state_->session.rank(); }
int DistAttend::ranks() const { return state_->session.ranks(); }
std::string_view DistAttend::algorithm() const { return dist::algorithm_name(state_->options.algorithm); }
std::string_view DistAttend::layout() const { return dist::layout_name(state_->options.layout); }

void DistAttend::all_or_none(const std::function<void()>& step, std::string_view what) const {
  state_->session.all_or_none(step, what);
}

Tensor<> DistAttend::forward(const MultiHeadAttention& layer, TensorView<const float> query,
                             TensorView<const float> key, TensorView<const float> value,
                             const MhaOptions& options, const Context& ctx) const {
  State& s = *state_;
  const int ranks = s.session.ranks(), rank = s.session.rank();
  const dist::Layout layout = s.options.layout;
  // Collective (it duplicates the communicator): every rank has passed all_or_none by now.
  if (!s.sp) s.sp = std::make_unique<dist::SequenceParallel>(s.session.comm(), s.options);

  const bool batch_first = layer.config().batch_first;
  const Index q_dim = sequence_dim(query, batch_first), kv_dim = sequence_dim(key, batch_first);
  const Tensor<> q = dist::take_shard<float>(query, q_dim, ranks, rank, layout);
  const Tensor<> k = dist::take_shard<float>(key, kv_dim, ranks, rank, layout);
  const Tensor<> v = dist::take_shard<float>(value, kv_dim, ranks, rank, layout);
  MhaOptions local = options;
  MaskShard padding;
  if (options.key_padding_mask)
    local.key_padding_mask = padding.take(*options.key_padding_mask, ranks, rank, layout);
  Context hooked = ctx;
  hooked.sequence_parallel = s.sp.get();
  const Tensor<> mine = layer.forward(q.view(), k.view(), v.view(), local, hooked).output;

  // Rank 0 gathers the output rows; the output has the query's layout, last dimension E.
  Shape whole = query.shape();
  whole.back() = mine.shape().back();
  return gather_shards(s.session.comm(), mine.view(), whole, q_dim, layout, s.options.timeout);
}

}  // namespace mha::cli
