// Sequence-parallel attention over MPI: each rank holds a shard of the sequence (Q, K and V rows,
// mha/dist/shards.hpp) and gets the output rows and log-sum-exp of its queries, equal to the
// matching rows of one process's attention over the whole sequence.
//
// - Algorithm::ring (Ring Attention, Liu et al. 2023): the key/value shards travel around the ring
//   in P−1 steps, each sent with MPI_Isend/MPI_Irecv into a second buffer while the kernel works on
//   the block in hand; each block's partial (out, lse) is merged by log-sum-exp
//   (mha/kernels/attention_merge.hpp), exact up to rounding. Block pairs that causality masks
//   whole are skipped, so with Layout::zigzag every rank does the same causal work.
// - Algorithm::ulysses (DeepSpeed-Ulysses): one all-to-all turns sequence shards into head shards
//   (rank s gets heads [s·H/P, (s+1)·H/P) of every row), each rank runs the whole-sequence kernel
//   on its heads, one all-to-all turns the output back. Needs P to divide the kv heads.
//
// Use it through Context::sequence_parallel, so MultiHeadAttention and the encoders run on shards
// unchanged (projections stay local), or call attention() directly. Supported: GQA/MQA, any scale,
// causal in both alignments, key padding (masks that depend on the key only), fully masked rows →
// out 0, lse −∞. Not supported, with an mha::Error: attention weights, query-by-key masks, a
// sliding window, dropout, the backward.
//
// Every call first agrees on the sizes: a rank whose sizes, parameters or shard length differ
// gets, like every other rank, an mha::Error naming the rank and the value. Waits are bounded by
// Options::timeout: a rank that has exited or does not take part makes the others throw an
// mha::Error naming it instead of hanging. MPI errors come back as mha::Error too
// (MPI_ERRORS_RETURN on mha's own duplicate of the communicator).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "mha/dist/shards.hpp"
#include "mha/kernels/sequence_parallel.hpp"

namespace mha::dist {

enum class Algorithm : std::uint8_t { ring, ulysses };

std::string_view algorithm_name(Algorithm algorithm);
// Parses "ring" / "ulysses"; throws mha::Error naming `argument` otherwise.
Algorithm parse_algorithm(std::string_view text, std::string_view argument = "dist");

struct Options {
  Algorithm algorithm = Algorithm::ring;
  Layout layout = Layout::zigzag;
  // The longest any rank waits for a message or a collective before it gives up.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

// What the last attention() call of this rank did.
struct Stats {
  std::int64_t bytes_sent = 0;  // to other ranks
  double seconds = 0;           // the whole call
  double compute_seconds = 0;   // local kernels and merges
  double agreement_seconds = 0; // the all-gather of sizes that starts every call (it absorbs
                                // the ranks' skew from the work before the call)
  double wait_seconds = 0;      // blocked on the exchange once the work in hand was done
  int steps = 0;                // ring steps (P) or all-to-alls (2)
};

class SequenceParallel final : public SequenceParallelAttention {
 public:
  // Duplicates `comm` (mha's messages never match the caller's), collectively: every rank of
  // `comm` constructs one. Throws mha::Error for a timeout ≤ 0 or a failed duplication.
  explicit SequenceParallel(MPI_Comm comm, Options options = {});
  ~SequenceParallel() override;
  SequenceParallel(const SequenceParallel&) = delete;
  SequenceParallel& operator=(const SequenceParallel&) = delete;

  int rank() const;
  int ranks() const;
  const Options& options() const;
  MPI_Comm communicator() const;  // mha's duplicate

  void attention(const AttentionArgs& shard, const Context& ctx) const override;
  Stats last_stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mha::dist
