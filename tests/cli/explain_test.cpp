// `mha explain`: the three formats, the causal mask, and the check against forward().
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

TEST(CliExplain, TextShowsEveryStepAndTheCheck) {
  const CliResult r = run_mha("explain");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* step : {"X: token embeddings", "W_Q, W_K, W_V", "Q = X·W_Qᵀ + b_Q",
                           "Split into heads", "S_h = Q_h·K_hᵀ", "S_h / √d_k", "Softmax",
                           "O_h = P_h·V_h", "Concatenate", "W_O", "Y = C·W_Oᵀ + b_O", "max |Δ|"})
    EXPECT_NE(r.out.find(step), std::string::npos) << step;
  EXPECT_EQ(r.out.find("Causal mask"), std::string::npos);
  EXPECT_NE(r.out.find("equal up to float rounding"), std::string::npos);
}

TEST(CliExplain, MarkdownHasTables) {
  const CliResult r = run_mha("explain --format markdown");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("## 1. X: token embeddings"), std::string::npos);
  EXPECT_NE(r.out.find("| **the** |"), std::string::npos);
  EXPECT_NE(r.out.find("|---|"), std::string::npos);
}

TEST(CliExplain, JsonParsesAndRowsSumToOne) {
  const CliResult r = run_mha("explain --format json --heads 2 --d-model 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("tokens"), nlohmann::json({"the", "cat", "sat", "down"}));
  EXPECT_TRUE(j.at("check").at("ok").get<bool>());
  EXPECT_LE(j.at("check").at("max_abs_diff").get<double>(), 1e-5);
  bool found_softmax = false;
  for (const auto& step : j.at("steps")) {
    if (step.at("title") != "Softmax") continue;
    found_softmax = true;
    ASSERT_EQ(step.at("matrices").size(), 2U);  // one per head
    for (const auto& m : step.at("matrices"))
      for (const auto& row : m.at("values")) EXPECT_NEAR(row.back().get<double>(), 1.0, 1e-6);
  }
  EXPECT_TRUE(found_softmax);
}

TEST(CliExplain, CausalMasksTheFuture) {
  const CliResult r = run_mha("explain --format json --causal");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("check").at("ok").get<bool>());
  bool found_mask = false;
  for (const auto& step : j.at("steps")) {
    if (step.at("title") == "Causal mask") {
      found_mask = true;
      EXPECT_EQ(step.at("matrices")[0].at("values")[0][1], "-inf");
    }
    if (step.at("title") == "Softmax") {
      const auto& p = step.at("matrices")[0].at("values");
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t k = i + 1; k < 4; ++k) EXPECT_EQ(p[i][k].get<double>(), 0.0);
    }
  }
  EXPECT_TRUE(found_mask);
}

TEST(CliExplain, BadArgumentsGiveOneErrorLine) {
  EXPECT_TRUE(fails_naming(run_mha("explain --d-model 8 --heads 3"), "num_heads"));
  EXPECT_TRUE(fails_naming(run_mha("explain --heads 0"), "--heads"));
  EXPECT_TRUE(fails_naming(run_mha("explain --format yaml"), "--format"));
}

}  // namespace
}  // namespace mha::testing
