// `mpirun -np P mha bench --dist …`: one report from rank 0, with figures that hang together
// (the distributed output equals the single-process one; hidden within [0, 1]; ulysses hides
// nothing), and the same command without mpirun on one rank.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "run_mpi.hpp"

namespace mha::testing {
namespace {

constexpr const char* kSmall = "--shape 1,96,32,4 --threads 1 --repeats 2 --json";

nlohmann::json parse_report(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1) << "rank 0 alone prints one JSON line:\n" << r.out;
  return nlohmann::json::parse(r.out);
}

TEST(DistBench, RingOnTwoRanks) {
  const nlohmann::json j = parse_report(run_mpi(2, std::string("bench --dist ring --causal ") + kSmall));
  EXPECT_EQ(j["dist"], "ring");
  EXPECT_EQ(j["layout"], "zigzag");
  EXPECT_EQ(j["ranks"], 2);
  EXPECT_EQ(j["single_threads"], 2);
  EXPECT_EQ(j["shape"], nlohmann::json({1, 96, 32, 4}));
  EXPECT_LT(j["max_abs_diff"].get<double>(), 1e-5);
  EXPECT_LE(j["least_wait_ms"].get<double>(), j["wait_ms"].get<double>() + 1e-9);
  const double hidden = j["hidden"].get<double>();
  EXPECT_GE(hidden, 0.0);
  EXPECT_LE(hidden, 1.0);
  // One K/V block of a rank's 48 rows (2 · 48 · 32 floats), sent once around a ring of two.
  EXPECT_EQ(j["block_bytes"], 2 * 48 * 32 * 4);
  EXPECT_EQ(j["bytes_sent"], j["block_bytes"]);
  EXPECT_GT(j["link_gbps"].get<double>(), 0.0);
  EXPECT_GT(j["exchange_ms"].get<double>(), 0.0);
  for (const char* key : {"median_ms", "single_ms", "gflops", "compute_ms", "speedup"})
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  EXPECT_FALSE(j["simd"].get<std::string>().empty());
  EXPECT_FALSE(j["cpu"].get<std::string>().empty());
}

TEST(DistBench, UlyssesOnTwoRanksHidesNothing) {
  const nlohmann::json j =
      parse_report(run_mpi(2, std::string("bench --dist ulysses --layout contiguous ") + kSmall));
  EXPECT_EQ(j["dist"], "ulysses");
  EXPECT_EQ(j["layout"], "contiguous");
  EXPECT_EQ(j["hidden"], 0.0);
  EXPECT_LT(j["max_abs_diff"].get<double>(), 1e-5);
}

TEST(DistBench, ThreeRanksText) {
  const CliResult r = run_mpi(3, "bench --dist ring --shape 1,64,32,4 --threads 1 --repeats 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"dist ring  layout zigzag  3 ranks", "distributed  median", "exchange",
                           "link", "single       median", "max |distributed - single|"})
    EXPECT_EQ(count_occurrences(r.out, line), 1) << line << " in:\n" << r.out;
}

TEST(DistBench, WithoutMpirunOneRank) {
  const nlohmann::json j = parse_report(run_mha(std::string("bench --dist ring ") + kSmall));
  EXPECT_EQ(j["ranks"], 1);
  EXPECT_TRUE(j["hidden"].is_null());
  EXPECT_TRUE(j["link_gbps"].is_null());
  EXPECT_EQ(j["bytes_sent"], 0);
  EXPECT_LT(j["max_abs_diff"].get<double>(), 1e-5);
}

TEST(DistBench, BadOptions) {
  EXPECT_TRUE(fails_naming(run_mha("bench --dist ring --decode --context 8"), "--dist"));
  EXPECT_TRUE(fails_naming(run_mha("bench --layout zigzag"), "--layout"));
  EXPECT_TRUE(fails_naming(run_mha("bench --dist mesh"), "--dist"));
  EXPECT_TRUE(fails_naming(run_mha("bench --dist ring --context 8"), "--context"));
  EXPECT_TRUE(fails_naming(run_mha("bench --dist ring --repeats 0"), "--repeats"));
  EXPECT_TRUE(job_fails_naming(run_mpi(3, std::string("bench --dist ulysses ") + kSmall), 3,
                               "ulysses"));
}

}  // namespace
}  // namespace mha::testing
