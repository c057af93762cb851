// mha attend --dist: the same layer over a sequence shared by the ranks of an mpirun job.
//
// Every rank reads the same files, keeps its shard of the sequence dimension (of query, key and
// value, and the key dimension of key_padding_mask), runs the layer with the sequence-parallel
// hook (mha/dist/sequence_parallel.hpp), and rank 0 gathers the output rows into the tensor a
// single process would have computed. This header names no MPI type, so attend.cpp compiles the
// same with and without MPI; without it (MHA_HAVE_DIST off) dist_unavailable.cpp stands in and
// every call throws an mha::Error naming --dist.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {

struct DistFlags {
  std::string algorithm;          // --dist ring|ulysses; empty: one process, no MPI
  std::string layout = "zigzag";  // --layout contiguous|zigzag
};

// One attend run's MPI: started by the constructor, finalized by the destructor.
class DistAttend {
 public:
  // Checks --dist and --layout, then starts MPI. Throws mha::Error naming the flag.
  explicit DistAttend(const DistFlags& flags);
  ~DistAttend();
  DistAttend(const DistAttend&) = delete;
  DistAttend& operator=(const DistAttend&) = delete;

  int rank() const;
  int ranks() const;
  std::string_view algorithm() const;
  std::string_view layout() const;

  // Runs `step` (reading the files) on every rank; if it threw anywhere, throws everywhere
  // (DistSession::all_or_none).
  void all_or_none(const std::function<void()>& step, std::string_view what) const;

  // The layer's output for the whole sequence: on rank 0 the tensor a single process returns,
  // on the other ranks an absent tensor. `query`, `key`, `value` and the key padding mask of
  // `options` are whole; `options` must hold no attn_mask and need_weights must be false.
  Tensor<> forward(const MultiHeadAttention& layer, TensorView<const float> query,
                   TensorView<const float> key, TensorView<const float> value,
                   const MhaOptions& options, const Context& ctx) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mha::cli
