// What every rank agreed on before the exchange (dist/sequence_parallel.cpp checks it): the sizes,
// the global lengths and each rank's shard, the same on every rank.
#pragma once

#include <vector>

#include "mha/dist/sequence_parallel.hpp"

namespace mha::dist {

class Communicator;

struct Plan {
  Index batch = 0, heads = 0, kv_heads = 0, d = 0, dv = 0;
  Index q_length = 0, k_length = 0;  // global Nq, Nk
  std::vector<Index> q_rows, k_rows;  // per rank: its shard's rows
  bool has_bias = false;              // every rank sends a [B, nk] key bias
  bool causal = false;
  Index shift = 0;                    // Nk − Nq for bottom-right alignment, else 0
  double scale = 1.0;
  Layout layout = Layout::zigzag;
  int ranks = 1, rank = 0;
};

// The local views of one call, and the key bias [B, nk] when there are masks.
struct Shard {
  const AttentionArgs& args;
  const std::vector<float>& bias;
};

void ring_attention(const Shard& shard, const Plan& plan, const Communicator& comm,
                    const Context& ctx, Stats& stats);
void ulysses_attention(const Shard& shard, const Plan& plan, const Communicator& comm,
                       const Context& ctx, Stats& stats);

// Copies a (possibly strided) 4-d view into contiguous floats at `to`; returns the end.
float* pack(TensorView<const float> view, float* to);
// The inverse: fills the 4-d view from contiguous floats; returns the end of what it read.
const float* unpack(const float* from, TensorView<float> view);

}  // namespace mha::dist
