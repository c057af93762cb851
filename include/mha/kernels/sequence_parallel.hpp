// The hook that lets attention run over a sequence held in shards by several processes, and with
// it every layer and model that calls mha::attention (Context::sequence_parallel).
//
// Under the hook, mha::attention's views are this process's shard: q [B, Hq, nq, D] holds the
// query rows it owns, k and v [B, Hkv, nk, ·] the key rows it owns, out and lse the output rows of
// its queries. Which global rows a shard holds is the implementation's layout (for
// mha::dist::SequenceParallel, contiguous or zigzag). Causality uses global positions. Masks must
// depend on the key only (stride 0 along heads and query rows: key padding), because a shard of a
// query-by-key mask cannot follow the keys around; attention weights are not available, since no
// process sees a whole row of them.
#pragma once

#include "mha/kernels/attention.hpp"

namespace mha {

class SequenceParallelAttention {
 public:
  virtual ~SequenceParallelAttention() = default;
  // Runs attention for this process's shard; every process of the group calls it with the same
  // sizes and parameters. `ctx` has no hook (the local kernels run with it). Throws mha::Error on
  // the same condition on every process.
  virtual void attention(const AttentionArgs& shard, const Context& ctx) const = 0;
};

}  // namespace mha
