// The balanced chunks and the shard copies (mha/dist/shards.hpp): pure arithmetic, the same on
// every rank.
#include "mha/dist/shards.hpp"

#include <gtest/gtest.h>

#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha::dist {
namespace {

TEST(Shards, ContiguousChunksAreBalancedAndCoverTheSequence) {
  // 10 rows over 4 ranks: 3, 3, 2, 2.
  const Index expected[4][2] = {{0, 3}, {3, 6}, {6, 8}, {8, 10}};
  for (int r = 0; r < 4; ++r) {
    const std::vector<RowRange> rows = shard_rows(10, 4, r, Layout::contiguous);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].begin, expected[r][0]);
    EXPECT_EQ(rows[0].end, expected[r][1]);
  }
}

TEST(Shards, ZigzagPairsAnEarlyChunkWithALateOne) {
  // 16 rows, 2 ranks, 4 chunks of 4: rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
  const std::vector<RowRange> r0 = shard_rows(16, 2, 0, Layout::zigzag);
  const std::vector<RowRange> r1 = shard_rows(16, 2, 1, Layout::zigzag);
  EXPECT_EQ(r0[0].begin, 0);
  EXPECT_EQ(r0[1].begin, 12);
  EXPECT_EQ(r1[0].begin, 4);
  EXPECT_EQ(r1[1].begin, 8);
  // Every row belongs to exactly one rank, for lengths that 2P does not divide too.
  for (const Index length : {Index{0}, Index{1}, Index{5}, Index{13}, Index{64}})
    for (const int ranks : {1, 2, 3, 4}) {
      std::vector<int> owner(static_cast<std::size_t>(length), -1);
      Index total = 0;
      for (int r = 0; r < ranks; ++r) {
        for (const RowRange& c : shard_rows(length, ranks, r, Layout::zigzag))
          for (Index p = c.begin; p < c.end; ++p) {
            EXPECT_EQ(owner[static_cast<std::size_t>(p)], -1) << "row " << p << " twice";
            owner[static_cast<std::size_t>(p)] = r;
          }
        total += shard_length(length, ranks, r, Layout::zigzag);
      }
      EXPECT_EQ(total, length);
    }
}

TEST(Shards, TakeAndPlaceAreInverse) {
  Tensor<> global({2, 3, 11, 4});
  for (std::size_t i = 0; i < global.values().size(); ++i) global.values()[i] = static_cast<float>(i);
  for (const Layout layout : {Layout::contiguous, Layout::zigzag}) {
    Tensor<> rebuilt({2, 3, 11, 4});
    for (int r = 0; r < 3; ++r) {
      const Tensor<> shard = take_shard<float>(global.view(), 2, 3, r, layout);
      EXPECT_EQ(shard.dim(2), shard_length(11, 3, r, layout));
      const std::vector<RowRange> rows = shard_rows(11, 3, r, layout);
      EXPECT_EQ(shard(1, 2, 0, 3), global(1, 2, rows[0].begin, 3));
      place_shard<float>(shard.view(), rebuilt.view(), 2, 3, r, layout);
    }
    EXPECT_TRUE(mha::testing::bit_identical(rebuilt.view(), global.view()));
  }
}

TEST(Shards, PositionsAreTheGlobalRows) {
  const Tensor<std::int64_t> p = shard_positions(2, 8, 2, 1, Layout::zigzag);
  ASSERT_EQ(p.shape(), (Shape{2, 4}));
  EXPECT_EQ(p(1, 0), 2);
  EXPECT_EQ(p(1, 1), 3);
  EXPECT_EQ(p(1, 2), 4);
  EXPECT_EQ(p(1, 3), 5);
}

TEST(Shards, BadArgumentsAreNamed) {
  EXPECT_TRUE(mha::testing::throws_error([&] { shard_rows(8, 0, 0, Layout::zigzag); }, {"ranks"}));
  EXPECT_TRUE(mha::testing::throws_error([&] { shard_rows(8, 2, 2, Layout::zigzag); }, {"rank"}));
  EXPECT_TRUE(mha::testing::throws_error([&] { shard_rows(-1, 2, 0, Layout::zigzag); }, {"length"}));
  EXPECT_TRUE(mha::testing::throws_error([&] { parse_layout("stripes"); }, {"layout"}));
  Tensor<> global({4, 8});
  EXPECT_TRUE(mha::testing::throws_error([&] { take_shard<float>(global.view(), 2, 2, 0, Layout::zigzag); }, {"dim"}));
  Tensor<> wrong({4, 3});
  EXPECT_TRUE(mha::testing::throws_error([&] { place_shard<float>(wrong.view(), global.view(), 1, 2, 0, Layout::zigzag); }, {"local"}));
}

}  // namespace
}  // namespace mha::dist
