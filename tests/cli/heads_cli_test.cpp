// `mha heads` on the tiny BERT fixture: heat maps, analysis, JSON, HTML and one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

const std::string kModel = std::string(MHA_FIXTURES_DIR) + "/bert_tiny";
const std::string kHeads = "heads --color never --model " + kModel + " ";

TEST(CliHeads, PrintsEveryHeadOfTheLastLayer) {
  const CliResult r = run_mha(kHeads + "--text 'The man saw the astronaut'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(2 layers × 4 heads, hidden size 32, head size 8)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("tokens (7): 0:[CLS] 1:the 2:man 3:saw 4:the 5:astronaut 6:[SEP]"),
            std::string::npos);
  for (int h = 1; h <= 4; ++h)
    EXPECT_NE(r.out.find("layer 2 head " + std::to_string(h) + " of 4"), std::string::npos) << h;
  EXPECT_EQ(count_occurrences(r.out, "→ "), 4 * 7);  // one strongest link per query row
  EXPECT_EQ(r.out.find("focus"), std::string::npos);
}

TEST(CliHeads, AnalysesTheFocusAndRanksHeadsForTheTarget) {
  const CliResult r = run_mha(kHeads +
                              "--text 'the man saw the astronaut with a telescope' --layer 1 "
                              "--focus man --target telescope");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("layer 1 head 4 of 4"), std::string::npos);
  EXPECT_EQ(r.out.find("layer 2 head"), std::string::npos);
  EXPECT_NE(r.out.find("focus man #2 in layer 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("heads of layer 1 ranked by attention from man #2 to telescope #8"),
            std::string::npos);
}

TEST(CliHeads, JsonHoldsEveryLayerAndHead) {
  const auto json = scratch_dir() / "heads.json";
  const CliResult r =
      run_mha(kHeads + "--text 'hello world' --focus '#1' --target world --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(j.at("tokens"), nlohmann::json({"[CLS]", "hello", "world", "[SEP]"}));
  EXPECT_EQ(j.at("config").at("num_attention_heads"), 4);
  const nlohmann::json& attention = j.at("attention");
  ASSERT_EQ(attention.size(), 2U);
  for (const auto& layer : attention) {
    ASSERT_EQ(layer.size(), 4U);
    for (const auto& head : layer) {
      ASSERT_EQ(head.size(), 4U);
      for (const auto& row : head) {
        ASSERT_EQ(row.size(), 4U);
        double sum = 0;
        for (const auto& p : row) sum += p.get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    }
  }
  const nlohmann::json& analysis = j.at("analysis");
  EXPECT_EQ(analysis.at("focus"), "hello");
  EXPECT_EQ(analysis.at("layer_index"), 1);
  ASSERT_EQ(analysis.at("heads").size(), 4U);
  ASSERT_EQ(analysis.at("ranking").size(), 4U);
  // The ranking is by the stored weight from "hello" (1) to "world" (2) in the last layer.
  const double first = analysis.at("ranking")[0].at("weight");
  const int head = analysis.at("ranking")[0].at("head_index");
  EXPECT_NEAR(first, attention[1][static_cast<std::size_t>(head)][1][2].get<double>(), 1e-7);
}

TEST(CliHeads, HtmlIsOneSelfContainedPage) {
  const auto html = scratch_dir() / "heads.html";
  const CliResult r =
      run_mha(kHeads + "--text 'the cat sat on the mat <script>' --html " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + html.string()), std::string::npos);
  const std::string page = slurp(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0U);
  EXPECT_EQ(count_occurrences(page, "<script"), 2);
  EXPECT_NE(page.find("\"queryKey\":{\"headDim\":8"), std::string::npos);
  EXPECT_EQ(page.find("http:"), std::string::npos);
  EXPECT_EQ(page.find("https:"), std::string::npos);
}

TEST(CliHeads, BadArgumentsGiveOneErrorLine) {
  EXPECT_TRUE(fails_naming(run_mha("heads --model /no/such/folder --text hi"), "--model"));
  EXPECT_TRUE(fails_naming(run_mha(kHeads + "--text 'the man' --focus telescope"), "--focus"));
  EXPECT_TRUE(
      fails_naming(run_mha(kHeads + "--text 'the man' --focus man --target moon"), "--target"));
  EXPECT_TRUE(fails_naming(run_mha(kHeads + "--text 'the man' --target man"), "--target"));
  EXPECT_TRUE(fails_naming(run_mha(kHeads + "--text 'the man' --layer 3"), "--layer"));
  EXPECT_TRUE(
      fails_naming(run_mha(kHeads + "--text 'the man' --html /no/such/dir/x.html"), "--html"));
  EXPECT_TRUE(fails_naming(run_mha("heads --model " + kModel), "--text"));
}

}  // namespace
}  // namespace mha::testing
