// Each rank's output and log-sum-exp equal its rows of one process's float64 reference, for both
// algorithms and both layouts, on every rank count the ctest entries run (1 to 4).
#include "mha/dist/sequence_parallel.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "dist/dist_problem.hpp"
#include "testing/expect_error.hpp"

namespace mha::testing {
namespace {

using dist::Algorithm;
using dist::Layout;

AttentionParams scaled(double scale) {
  AttentionParams p;
  p.scale = scale;
  return p;
}

struct Setting {
  Algorithm algorithm;
  Layout layout;
};

class SequenceParallelTest : public ::testing::TestWithParam<Setting> {
 protected:
  dist::SequenceParallel make() const {
    return dist::SequenceParallel(MPI_COMM_WORLD, {.algorithm = GetParam().algorithm,
                                                   .layout = GetParam().layout,
                                                   .timeout = std::chrono::seconds(30)});
  }
  void expect_shards_match(DistSpec spec) {
    spec.algorithm = GetParam().algorithm;
    spec.layout = GetParam().layout;
    const dist::SequenceParallel sp = make();
    DistProblem problem(spec);
    problem.expect_matches(problem.run(sp), sp.ranks(), sp.rank());
  }
};

// 12 kv heads: every rank count up to 4 divides them, so ulysses runs each case too.
TEST_P(SequenceParallelTest, NotCausalWithLengthsTheRanksDoNotDivide) {
  expect_shards_match({.problem = {.batch = 2, .heads = 12, .kv_heads = 12, .lq = 37, .lk = 37, .d = 8, .dv = 8}});
}

TEST_P(SequenceParallelTest, CausalTopLeft) {
  expect_shards_match({.problem = {.batch = 2, .heads = 12, .kv_heads = 12, .lq = 41, .lk = 41, .d = 8, .dv = 8,
                                   .causal = true}});
}

TEST_P(SequenceParallelTest, CausalBottomRightWithMoreKeysThanQueries) {
  expect_shards_match({.problem = {.batch = 1, .heads = 12, .kv_heads = 12, .lq = 19, .lk = 45, .d = 8, .dv = 8,
                                   .causal = true, .alignment = Alignment::bottom_right}});
}

TEST_P(SequenceParallelTest, CausalTopLeftWithMoreQueriesThanKeys) {
  // Rows past the last key see every key; with bottom-right the first rows would see none.
  expect_shards_match({.problem = {.batch = 1, .heads = 12, .kv_heads = 12, .lq = 30, .lk = 13, .d = 8, .dv = 8,
                                   .causal = true}});
  expect_shards_match({.problem = {.batch = 1, .heads = 12, .kv_heads = 12, .lq = 30, .lk = 13, .d = 8, .dv = 8,
                                   .causal = true, .alignment = Alignment::bottom_right}});
}

TEST_P(SequenceParallelTest, GroupedQueryHeadsAndAnotherValueWidth) {
  expect_shards_match({.problem = {.batch = 2, .heads = 24, .kv_heads = 12, .lq = 33, .lk = 33, .d = 8, .dv = 12,
                                   .causal = true}});
}

TEST_P(SequenceParallelTest, KeyPaddingWithAWhollyPaddedSequenceGivesZeroRows) {
  expect_shards_match({.problem = {.batch = 2, .heads = 12, .kv_heads = 12, .lq = 29, .lk = 29, .d = 8, .dv = 8,
                                   .causal = true},
                       .padding = true});
}

TEST_P(SequenceParallelTest, AdditiveKeyBiasAndACustomScale) {
  expect_shards_match({.problem = {.batch = 2, .heads = 12, .kv_heads = 12, .lq = 26, .lk = 26, .d = 8, .dv = 8},
                       .key_bias = true, .scale = 0.3});
}

TEST_P(SequenceParallelTest, LargeLogits) {
  expect_shards_match({.problem = {.batch = 1, .heads = 12, .kv_heads = 12, .lq = 24, .lk = 24, .d = 8, .dv = 8,
                                   .causal = true, .magnitude = 30.0f}});
}

TEST_P(SequenceParallelTest, OutputMayOverwriteTheQueries) {
  // The layer hands the kernel out = q: the exchange must read every query before it writes.
  const dist::SequenceParallel sp = make();
  DistSpec spec{.problem = {.batch = 1, .heads = 12, .kv_heads = 12, .lq = 21, .lk = 21, .d = 8, .dv = 8,
                            .causal = true},
                .algorithm = GetParam().algorithm, .layout = GetParam().layout};
  DistProblem problem(spec);
  const ShardResult separate = problem.run(sp);
  Problem& whole = problem.problem();
  Tensor<> q = dist::take_shard<float>(whole.q(), 2, sp.ranks(), sp.rank(), spec.layout);
  const Tensor<> k = dist::take_shard<float>(whole.k(), 2, sp.ranks(), sp.rank(), spec.layout);
  const Tensor<> v = dist::take_shard<float>(whole.v(), 2, sp.ranks(), sp.rank(), spec.layout);
  sp.attention({.q = q.view(), .k = k.view(), .v = v.view(), .out = q.view(), .weights = {}, .lse = {},
                .params = problem.problem().params},
               Context{.kernel = KernelKind::cpu, .threads = 1});
  EXPECT_TRUE(bit_identical(q.view(), separate.out.view()));
}

TEST_P(SequenceParallelTest, UnsupportedRequestsFailOnEveryRank) {
  const dist::SequenceParallel sp = make();
  Tensor<> q({1, 12, 4, 8}), out({1, 12, 4, 8}), weights({1, 12, 4, 4});
  const AttentionArgs base{.q = q.view(), .k = q.view(), .v = q.view(), .out = out.view(), .weights = {},
                           .lse = {}, .params = scaled(0.5)};
  const Context ctx{.kernel = KernelKind::cpu, .threads = 1};
  AttentionArgs with_weights = base;
  with_weights.weights = weights.view();
  EXPECT_TRUE(throws_error([&] { sp.attention(with_weights, ctx); }, {"rank 0: weights"}));
  AttentionArgs windowed = base;
  windowed.params.window_left = 2;
  EXPECT_TRUE(throws_error([&] { sp.attention(windowed, ctx); }, {"rank 0: window_left"}));
  Tensor<std::uint8_t> per_query({4, 4});
  AttentionArgs query_mask = base;
  query_mask.params.masks.push_back(block_mask({per_query.data(), {1, 12, 4, 4}, {0, 0, 4, 1}}));
  EXPECT_TRUE(throws_error([&] { sp.attention(query_mask, ctx); }, {"masks", "query rows"}));
}

std::string name(const ::testing::TestParamInfo<Setting>& info) {
  return std::string(dist::algorithm_name(info.param.algorithm)) + "_" +
         std::string(dist::layout_name(info.param.layout));
}

INSTANTIATE_TEST_SUITE_P(Dist, SequenceParallelTest,
                         ::testing::Values(Setting{Algorithm::ring, Layout::zigzag},
                                           Setting{Algorithm::ring, Layout::contiguous},
                                           Setting{Algorithm::ulysses, Layout::zigzag},
                                           Setting{Algorithm::ulysses, Layout::contiguous}),
                         name);

TEST(SequenceParallel, RingAndUlyssesAgree) {
  const DistSpec spec{.problem = {.batch = 2, .heads = 24, .kv_heads = 12, .lq = 50, .lk = 50, .d = 8, .dv = 8,
                                  .causal = true},
                      .padding = true};
  DistProblem problem(spec);
  const dist::SequenceParallel ring(MPI_COMM_WORLD, {.algorithm = Algorithm::ring});
  const dist::SequenceParallel ulysses(MPI_COMM_WORLD, {.algorithm = Algorithm::ulysses});
  const ShardResult a = problem.run(ring), b = problem.run(ulysses);
  // Both meet the rule against the reference, so they differ by at most twice its bound; in
  // practice by a few ulps.
  EXPECT_TRUE(all_close(a.out.view(), b.out.view(), 1e-5));
}

TEST(SequenceParallel, ShardsLongerThanAKernelSlab) {
  // Over 256 query rows per rank at P ≤ 2: a chunk pair runs as several kernel calls (the ring
  // alone slices them; ulysses runs one kernel call per rank).
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.algorithm = Algorithm::ring, .layout = Layout::zigzag});
  DistProblem problem({.problem = {.batch = 1, .heads = 2, .kv_heads = 2, .lq = 600, .lk = 600, .d = 4, .dv = 4,
                                   .causal = true}});
  problem.expect_matches(problem.run(sp), sp.ranks(), sp.rank());
}

TEST(SequenceParallel, SizesThatDifferAcrossRanksFailOnEveryRankNamingTheRank) {
  const int ranks = world_size(), rank = world_rank();
  if (ranks < 2) GTEST_SKIP() << "needs two ranks";
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.timeout = std::chrono::seconds(30)});
  const Index d = rank == 1 ? 16 : 8;  // rank 1 has another head_dim
  const Index n = dist::shard_length(20, ranks, rank, Layout::zigzag);
  Tensor<> q({1, 2, n, d}), out({1, 2, n, d});
  const Context ctx{.kernel = KernelKind::cpu, .threads = 1};
  EXPECT_TRUE(throws_error([&] {
    sp.attention({.q = q.view(), .k = q.view(), .v = q.view(), .out = out.view(), .weights = {}, .lse = {},
                  .params = scaled(0.5)}, ctx);
  }, {"rank 1: head_dim = 16 where rank 0 has 8"}));
  // A shard of the wrong length: rank 0 holds 3 rows fewer than its zigzag shard of 20 rows, so
  // the ranks hold 17 rows, of which rank 0's shard would be 5 rows on 2 to 4 ranks, never its 7, 4 or 2.
  const Index wrong = dist::shard_length(20, ranks, rank, Layout::zigzag) - (rank == 0 ? 3 : 0);
  Tensor<> q2({1, 2, wrong, 8}), out2({1, 2, wrong, 8});
  EXPECT_TRUE(throws_error([&] {
    sp.attention({.q = q2.view(), .k = q2.view(), .v = q2.view(), .out = out2.view(), .weights = {},
                  .lse = {}, .params = scaled(0.5)}, ctx);
  }, {"rank 0: q holds", "zigzag shard of"}));
}

TEST(SequenceParallel, UlyssesNeedsTheRanksToDivideTheKvHeads) {
  const int ranks = world_size(), rank = world_rank();
  if (ranks < 2) GTEST_SKIP() << "needs two ranks";
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.algorithm = Algorithm::ulysses});
  const Index n = dist::shard_length(12, ranks, rank, Layout::zigzag);
  const Index kv_heads = ranks + 1;  // never a multiple of the rank count
  Tensor<> q({1, kv_heads, n, 8}), out({1, kv_heads, n, 8});
  EXPECT_TRUE(throws_error([&] {
    sp.attention({.q = q.view(), .k = q.view(), .v = q.view(), .out = out.view(), .weights = {}, .lse = {},
                  .params = scaled(0.5)}, Context{.kernel = KernelKind::cpu, .threads = 1});
  }, {"kv heads: expected a multiple of", "the ulysses algorithm shards the heads"}));
}

TEST(SequenceParallel, ARankThatDoesNotTakePartMakesTheOthersTimeOutNotHang) {
  const int ranks = world_size(), rank = world_rank();
  if (ranks < 2) GTEST_SKIP() << "needs two ranks";
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.timeout = std::chrono::milliseconds(1500)});
  const Index n = dist::shard_length(8, ranks, rank, Layout::zigzag);
  Tensor<> q({1, 1, n, 4}), out({1, 1, n, 4});
  const AttentionArgs args{.q = q.view(), .k = q.view(), .v = q.view(), .out = out.view(), .weights = {},
                           .lse = {}, .params = scaled(0.5)};
  const Context ctx{.kernel = KernelKind::cpu, .threads = 1};
  const auto start = std::chrono::steady_clock::now();
  if (rank != 1) {  // rank 1 is late: the others give up on the agreement
    EXPECT_TRUE(throws_error([&] { sp.attention(args, ctx); }, {"no progress after 1.5 s", "agreeing"}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 1) {  // it joins the abandoned agreement, then waits in vain for the ring
    EXPECT_TRUE(throws_error([&] { sp.attention(args, ctx); }, {"rank 1: no progress after 1.5 s", "ring step"}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20.0);
  // And the object refuses to run out of step again.
  EXPECT_TRUE(throws_error([&] { sp.attention(args, ctx); }, {"gave up"}));
}

TEST(SequenceParallel, BadOptionsAreNamed) {
  EXPECT_TRUE(throws_error([&] { dist::SequenceParallel(MPI_COMM_WORLD, {.timeout = std::chrono::milliseconds(0)}); },
                           {"timeout"}));
  EXPECT_TRUE(throws_error([&] { dist::parse_algorithm("star"); }, {"dist", "ring, ulysses"}));
}

}  // namespace
}  // namespace mha::testing
