// `mha demo --untrained`: runs, says the weights are untrained, prints one table per head, writes
// a trace.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

TEST(CliDemoUntrained, PrintsUntrainedNoticeAndEveryHead) {
  const CliResult r = run_mha("demo --untrained --color never");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_NE(r.out.find("UNTRAINED"), std::string::npos);
  EXPECT_NE(r.out.find("tokens (8): 0:the 1:man 2:saw 3:the 4:astronaut 5:with 6:a 7:telescope"),
            std::string::npos);
  EXPECT_NE(r.out.find("(a) One head of width 512"), std::string::npos);
  EXPECT_EQ(count_occurrences(r.out, " of 8  (columns "), 8);
  EXPECT_NE(r.out.find("head 8 of 8  (columns 448–511"), std::string::npos);
  EXPECT_NE(r.out.find("(c) Cost"), std::string::npos);
  EXPECT_NE(r.out.find("1,048,576"), std::string::npos);  // 4·E² for E = 512
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);       // --color never: no escapes
  // 9 tables (1 + 8) with 8 query rows each, every row naming its strongest key.
  EXPECT_EQ(count_occurrences(r.out, "→ "), 9 * 8);
}

TEST(CliDemoUntrained, ColorAlwaysUsesAnsiShading) {
  const CliResult r = run_mha("demo --untrained --color always --d-model 16 --heads 2 --text 'a b c'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\x1b[48;5;"), std::string::npos);
}

TEST(CliDemoUntrained, TraceHoldsPerHeadWeightsAndFlops) {
  const auto trace = scratch_dir() / "trace.json";
  const CliResult r = run_mha("demo --untrained --d-model 64 --heads 4 --seed 3 --text 'Time flies.' --trace " +
                              trace.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(slurp(trace));
  EXPECT_TRUE(j.at("untrained").get<bool>());
  EXPECT_EQ(j.at("tokens"), nlohmann::json({"time", "flies", "."}));
  EXPECT_EQ(j.at("config").at("head_dim"), 16);
  ASSERT_EQ(j.at("heads").size(), 4U);
  for (const auto& head : j.at("heads")) {
    ASSERT_EQ(head.at("weights").size(), 3U);
    for (const auto& row : head.at("weights")) {
      double sum = 0;
      for (const auto& p : row) sum += p.get<double>();
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
    EXPECT_EQ(head.at("argmax").size(), 3U);
  }
  const long l = 3, e = 64;
  EXPECT_EQ(j.at("flops").at("projections"), 8 * l * e * e);
  EXPECT_EQ(j.at("flops").at("attention_core"), 4 * l * l * e);
  EXPECT_EQ(j.at("softmax_entries").at("multi_head"), 4 * l * l);
}

TEST(CliDemoUntrained, SameSeedSameOutput) {
  const CliResult a = run_mha("demo --untrained --color never --d-model 32 --heads 4 --seed 9");
  const CliResult b = run_mha("demo --untrained --color never --d-model 32 --heads 4 --seed 9");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(CliDemoUntrained, BadArgumentsGiveOneErrorLine) {
  EXPECT_TRUE(fails_naming(run_mha("demo --untrained --heads 0"), "--heads"));
  EXPECT_TRUE(fails_naming(run_mha("demo --untrained --d-model 512 --heads 3"), "num_heads"));
  EXPECT_TRUE(fails_naming(run_mha("demo --untrained --kernel gpu"), "--kernel"));
  EXPECT_TRUE(fails_naming(run_mha("demo --untrained --color sometimes"), "--color"));
  EXPECT_TRUE(fails_naming(run_mha("demo --untrained --text '   '"), "--text"));
}

TEST(CliDemoUntrained, HelpListsTheFlags) {
  const CliResult r = run_mha("demo --help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--text", "--d-model", "--heads", "--seed", "--kernel", "--color", "--trace", "--untrained",
        "--contextual", "--html", "--model", "--focus", "--layer"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace mha::testing
