// `mha heads` on models trained by mha: the built-in demo models and a checkpoint of `mha train`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

TEST(CliHeadsTrained, BuiltInModelHeatMapsAnalysisJsonAndHtml) {
  const auto dir = scratch_dir();
  const CliResult r = run_mha("heads --model demo --text 'The man saw the astronaut with a telescope' "
                              "--focus telescope --target astronaut --color never --json " +
                              (dir / "h.json").string() + " --html " + (dir / "h.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(2 layers × 4 heads, hidden size 64, head size 16)"), std::string::npos);
  EXPECT_EQ(count_occurrences(r.out, "layer 2 head "), 4);
  EXPECT_NE(r.out.find("heads of layer 2 ranked by attention from telescope #7 to astronaut #4"),
            std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "h.json"));
  EXPECT_EQ(j.at("tokens").size(), 8U);  // words only: no [CLS] / [SEP]
  EXPECT_EQ(j.at("attention").size(), 2U);
  EXPECT_EQ(j.at("attention").at(0).size(), 4U);
  const std::string page = slurp(dir / "h.html");
  EXPECT_NE(page.find("astronaut"), std::string::npos);
}

TEST(CliHeadsTrained, CheckpointOfMhaTrainAndTheOneHeadModel) {
  const auto model = scratch_dir() / "m.safetensors";
  ASSERT_EQ(run_mha("train --steps 2 --d-model 16 --heads 2 --layers 1 --batch 4 --quiet --out " +
                    model.string()).exit_code, 0);
  const CliResult r = run_mha("heads --model " + model.string() + " --text 'the chef cut the bread' --color never");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_occurrences(r.out, "layer 1 head "), 2);
  const CliResult one = run_mha("heads --model demo-1-head --text 'the girl sat on the river bank' --color never");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(count_occurrences(one.out, "layer 2 head "), 1);
}

TEST(CliHeadsTrained, WordsOutsideTheVocabularyAreNamed) {
  EXPECT_TRUE(fails_naming(run_mha("heads --model demo --text 'the man saw a unicorn'"), "--text"));
  EXPECT_TRUE(fails_naming(run_mha("heads --model /no/such/thing --text 'the man'"), "--model"));
}

}  // namespace
}  // namespace mha::testing
