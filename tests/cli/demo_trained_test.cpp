// `mha demo` with the built-in trained models: the telescope sentence's focus rows, per-head
// links of both readings, the head view, the trace, --contextual, --model, and bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

TEST(CliDemoTrained, ShowsEveryHeadsLinksOnTheTelescopeSentence) {
  const CliResult r = run_mha("demo --color never");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokens (8): 0:the 1:man 2:saw 3:the 4:astronaut 5:with 6:a 7:telescope"),
            std::string::npos);
  EXPECT_NE(r.out.find("\"telescope\" is an instrument of \"saw\" and an attribute of \"astronaut\""),
            std::string::npos);
  EXPECT_EQ(count_occurrences(r.out, "4 heads  L"), 8);  // 2 layers × 4 heads
  EXPECT_EQ(count_occurrences(r.out, "1 head   L"), 2);
  // The shipped 4-head model has heads for both readings: that is what the demo is for.
  EXPECT_NE(r.out.find(": instrument"), std::string::npos);
  EXPECT_NE(r.out.find("astronaut: attribute"), std::string::npos);
  EXPECT_NE(r.out.find("(c) The 1-head model"), std::string::npos);
  EXPECT_NE(r.out.find("(d) Cost"), std::string::npos);
  EXPECT_EQ(r.out.find("UNTRAINED"), std::string::npos);
}

TEST(CliDemoTrained, TraceHoldsBothModelsWeightsAndTheRoles) {
  const auto trace = scratch_dir() / "trace.json";
  const CliResult r = run_mha("demo --color never --trace " + trace.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(slurp(trace));
  EXPECT_FALSE(j.at("untrained").get<bool>());
  EXPECT_EQ(j.at("focus"), 7);
  EXPECT_EQ(j.at("roles").at(7), "pp_noun");
  ASSERT_EQ(j.at("models").size(), 2U);
  EXPECT_EQ(j.at("models").at(0).at("attention").size(), 2U);     // layers
  EXPECT_EQ(j.at("models").at(0).at("attention").at(1).size(), 4U);  // heads
  for (const auto& row : j.at("models").at(1).at("attention").at(0).at(0).at("weights")) {
    double sum = 0;
    for (const auto& p : row) sum += p.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

TEST(CliDemoTrained, WritesTheOfflineHeadView) {
  const auto html = scratch_dir() / "view.html";
  const CliResult r = run_mha("demo --color never --html " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = slurp(html);
  EXPECT_NE(page.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(page.find("telescope"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST(CliDemoTrained, OtherSentencesAndFocusWords) {
  const CliResult r = run_mha("demo --color never --text 'the chef cut the bread with a knife' --focus chef --layer 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Where \"chef\" looks"), std::string::npos);
  EXPECT_NE(r.out.find("layer 1: one table per head"), std::string::npos);
}

TEST(CliDemoTrained, ContextualBankSeparatesTheTwoSenses) {
  const CliResult r = run_mha("demo --contextual");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cos(e in money, e in river)      +1.000"), std::string::npos) << r.out;
  const auto at = r.out.find("cos(h money, h river)");
  ASSERT_NE(at, std::string::npos);
  // The two contextual vectors of the same token differ clearly, while the inputs are identical.
  EXPECT_LT(std::stod(r.out.substr(at + 21, 40)), 0.9) << r.out;
}

TEST(CliDemoTrained, BadInputGivesOneErrorLine) {
  EXPECT_TRUE(fails_naming(run_mha("demo --text 'the man saw a unicorn'"), "--text"));
  EXPECT_TRUE(fails_naming(run_mha("demo --focus unicorn"), "--focus"));
  EXPECT_TRUE(fails_naming(run_mha("demo --layer 3"), "--layer"));
  EXPECT_TRUE(fails_naming(run_mha("demo --model /nonexistent/model.safetensors"), "--model"));
  EXPECT_TRUE(fails_naming(run_mha("demo --contextual --untrained"), "--contextual"));
  std::string too_long;  // the built-in models take at most 64 positions
  for (int i = 0; i < 33; ++i) too_long += "the man ";
  EXPECT_TRUE(fails_naming(run_mha("demo --text '" + too_long + "'"), "--text"));
}

}  // namespace
}  // namespace mha::testing
