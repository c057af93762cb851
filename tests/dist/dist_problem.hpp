// One attention problem over the whole sequence, the same on every rank (fixed seed), run once by
// the float64 reference and the plain fp32 loops for the bound, then each rank's shard run through
// mha::dist::SequenceParallel and held to the fast-vs-reference rule (../shared/numerics.md):
//   max|out_rank − out64[rank's rows]| ≤ 2·max|out_naive − out64| + 4 ulps of max|out64|
// where the naive error is the whole tensor's, since the rank's rows are a slice of that tensor.
#pragma once

#include <mpi.h>

#include <optional>

#include "kernels/attention_cpu_problem.hpp"
#include "mha/dist/sequence_parallel.hpp"

namespace mha::testing {

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

struct DistSpec {
  ProblemSpec problem;
  dist::Algorithm algorithm = dist::Algorithm::ring;
  dist::Layout layout = dist::Layout::zigzag;
  bool padding = false;      // key padding; with B ≥ 2, the last sequence is padded whole
  bool key_bias = false;     // an additive key-only mask with finite values and one −∞
  double scale = 0;          // 0: 1/sqrt(D)
};

struct ShardResult {
  Tensor<> out, lse;
};

class DistProblem {
 public:
  explicit DistProblem(const DistSpec& s) : spec_(s), problem_(with_defaults(s.problem)) {
    const ProblemSpec& p = problem_.spec;
    problem_.reserve_masks(2);
    if (s.scale != 0) problem_.params.scale = s.scale;
    if (s.padding) {
      Tensor<std::uint8_t>& flags = problem_.add_flags(MaskKind::block, {p.batch, p.lk}, {p.lk, 0, 0, 1});
      for (Index b = 0; b < p.batch; ++b)
        for (Index j = 0; j < p.lk; ++j)
          flags(b, j) = (b == p.batch - 1 && p.batch > 1) || (j % 3 == 2) ? 1 : 0;
    }
    if (s.key_bias) {
      Tensor<>& values = problem_.add_values({p.batch, p.lk}, {p.lk, 0, 0, 1});
      for (Index b = 0; b < p.batch; ++b)
        for (Index j = 0; j < p.lk; ++j)
          values(b, j) = j == 1 ? -std::numeric_limits<float>::infinity() : 0.25f * static_cast<float>(j % 5);
    }
    ref_ = problem_.run(KernelKind::reference);
    naive_ = problem_.run_naive();
  }

  // This rank's shard through SequenceParallel (cpu kernel, one thread: ranks share the cores).
  ShardResult run(const dist::SequenceParallel& sp) {
    const ProblemSpec& p = problem_.spec;
    const int ranks = sp.ranks(), rank = sp.rank();
    const dist::Layout layout = spec_.layout;
    const Tensor<> q = dist::take_shard<float>(problem_.q(), 2, ranks, rank, layout);
    const Tensor<> k = dist::take_shard<float>(problem_.k(), 2, ranks, rank, layout);
    const Tensor<> v = dist::take_shard<float>(problem_.v(), 2, ranks, rank, layout);
    const Index nq = q.dim(2), nk = k.dim(2);
    std::vector<Tensor<std::uint8_t>> flags;
    std::vector<Tensor<>> values;
    AttentionParams params = problem_.params;
    params.masks.clear();
    for (const Tensor<std::uint8_t>& f : problem_.flag_store)
      flags.push_back(dist::take_shard<std::uint8_t>(f.view(), 1, ranks, rank, layout));
    for (const Tensor<>& x : problem_.value_store)
      values.push_back(dist::take_shard<float>(x.view(), 1, ranks, rank, layout));
    const Shape shape = {p.batch, p.heads, nq, nk}, strides = {nk, 0, 0, 1};
    for (const Tensor<std::uint8_t>& f : flags) params.masks.push_back(block_mask({f.data(), shape, strides}));
    for (const Tensor<>& x : values) params.masks.push_back(additive_mask({x.data(), shape, strides}));
    ShardResult r{Tensor<>({p.batch, p.heads, nq, p.dv}), Tensor<>({p.batch, p.heads, nq})};
    sp.attention({.q = q.view(), .k = k.view(), .v = v.view(), .out = r.out.view(), .weights = {},
                  .lse = r.lse.view(), .params = params},
                 Context{.kernel = KernelKind::cpu, .threads = 1});
    return r;
  }

  // The rule for this rank's rows of out and lse.
  void expect_matches(const ShardResult& r, int ranks, int rank) const {
    const dist::Layout layout = spec_.layout;
    for (const auto& [name, mine, ref, naive] :
         {std::tuple{"out", &r.out, &ref_.out, &naive_.out}, std::tuple{"lse", &r.lse, &ref_.lse, &naive_.lse}}) {
      const Tensor<> ref_rows = dist::take_shard<float>(ref->view(), 2, ranks, rank, layout);
      const double floor = 4.0 * std::numeric_limits<float>::epsilon() * max_magnitude(*ref);
      const double bound = 2.0 * max_abs_diff(naive->view(), ref->view()) + floor;
      if (std::string(name) == "lse") {  // −∞ where the reference has it, the rule elsewhere
        for (std::size_t i = 0; i < ref_rows.values().size(); ++i)
          if (std::isinf(ref_rows.values()[i])) {
            ASSERT_EQ(mine->values()[i], ref_rows.values()[i]) << "lse element " << i;
          } else {
            ASSERT_LE(std::abs(mine->values()[i] - ref_rows.values()[i]), bound) << "lse element " << i;
          }
      } else {
        EXPECT_TRUE(all_close(mine->view(), ref_rows.view(), bound)) << name << " on rank " << rank;
      }
    }
  }

  Problem& problem() { return problem_; }

 private:
  static ProblemSpec with_defaults(ProblemSpec p) {
    p.want_weights = false;
    return p;
  }
  DistSpec spec_;
  Problem problem_;
  Problem::Result ref_, naive_;
};

}  // namespace mha::testing
