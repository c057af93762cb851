// `mha heads --ablate` and the demo's ablation lines: the built-in models, checkpoints of
// `mha train` (masked and causal), the JSON and the head view page; BERT folders say no.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

const std::string kSentence = "'The man saw the astronaut with a telescope'";

TEST(CliHeadsAblation, DemoModelTableJsonAndHtml) {
  const auto dir = scratch_dir();
  const CliResult r = run_mha("heads --model demo --text " + kSentence +
                              " --focus telescope --ablate --ablate-examples 90 --color never --json " +
                              (dir / "h.json").string() + " --html " + (dir / "h.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("head ablation (Michel et al. 2019)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("on 90 held-out examples"), std::string::npos);
  for (const char* head : {"  L1 H1 ", "  L1 H4 ", "  L2 H4 "}) EXPECT_NE(r.out.find(head), std::string::npos) << head;
  EXPECT_NE(r.out.find("pp_noun"), std::string::npos);
  EXPECT_EQ(count_occurrences(r.out, "layer 2 head "), 4);  // the heat maps are still there

  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "h.json"));
  const nlohmann::json& a = j.at("ablation");
  EXPECT_EQ(a.at("objective"), "masked");
  EXPECT_EQ(a.at("examples"), 90);
  EXPECT_EQ(a.at("unit"), "nats");
  ASSERT_EQ(a.at("heads").size(), 8U);
  const nlohmann::json& head = a.at("heads").at(7);
  EXPECT_EQ(head.at("layer_index"), 1);
  EXPECT_EQ(head.at("head_index"), 3);
  EXPECT_TRUE(head.at("delta").contains("pp_noun"));
  EXPECT_TRUE(a.at("base_loss").at("pp_noun").is_number());
  EXPECT_EQ(a.at("positions").at("pp_noun"), 30);  // every third example

  const std::string page = slurp(dir / "h.html");
  EXPECT_NE(page.find("\"focus\":7"), std::string::npos);
  EXPECT_NE(page.find("\"importance\":{"), std::string::npos);
}

TEST(CliHeadsAblation, WithoutAblateNothingChanges) {
  const auto dir = scratch_dir();
  const CliResult r = run_mha("heads --model demo --text " + kSentence + " --color never --json " +
                              (dir / "h.json").string() + " --html " + (dir / "h.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("head ablation"), std::string::npos);
  EXPECT_FALSE(nlohmann::json::parse(slurp(dir / "h.json")).contains("ablation"));
  const std::string page = slurp(dir / "h.html");
  EXPECT_NE(page.find("\"focus\":null"), std::string::npos);
  EXPECT_NE(page.find("\"importance\":null"), std::string::npos);
}

TEST(CliHeadsAblation, CheckpointsOfMhaTrainMaskedAndCausal) {
  const auto dir = scratch_dir();
  const auto masked = dir / "masked.safetensors", causal = dir / "causal.safetensors";
  ASSERT_EQ(run_mha("train --steps 3 --d-model 16 --heads 2 --layers 1 --batch 4 --quiet --out " + masked.string())
                .exit_code, 0);
  const CliResult m = run_mha("heads --model " + masked.string() +
                              " --text 'the chef cut the bread' --ablate --ablate-examples 30 --color never --json " +
                              (dir / "m.json").string());
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("  L1 H2 "), std::string::npos) << m.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "m.json")).at("ablation").at("heads").size(), 2U);

  ASSERT_EQ(run_mha("train --objective causal-lm --steps 3 --d-model 16 --heads 2 --layers 1 --batch 4 --quiet --out " +
                    causal.string()).exit_code, 0);
  const CliResult c = run_mha("heads --model " + causal.string() +
                              " --text 'the chef cut' --ablate --ablate-examples 10 --color never --json " +
                              (dir / "c.json").string());
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("10 held-out sentences"), std::string::npos) << c.out;
  const nlohmann::json a = nlohmann::json::parse(slurp(dir / "c.json")).at("ablation");
  EXPECT_EQ(a.at("objective"), "causal-lm");
  EXPECT_EQ(a.at("positions").at("end"), 10);  // one <eos> per sentence
}

TEST(CliHeadsAblation, BertFoldersAndStrayOptionsGiveOneErrorLine) {
  const std::string bert = std::string(MHA_FIXTURES_DIR) + "/bert_tiny";
  EXPECT_TRUE(fails_naming(run_mha("heads --model " + bert + " --text 'the man' --ablate"), "--ablate"));
  EXPECT_NE(run_mha("heads --model demo --text 'the man' --ablate-examples 10").exit_code, 0);
  EXPECT_NE(run_mha("heads --model demo --text 'the man' --ablate --ablate-examples 0").exit_code, 0);
}

TEST(CliHeadsAblation, DemoShowsWhichHeadsMatterAndThePageOpensOnTelescope) {
  const auto html = scratch_dir() / "demo.html";
  const CliResult r = run_mha("demo --color never --html " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Which heads matter"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Δ pp_noun"), std::string::npos);
  EXPECT_EQ(count_occurrences(r.out, "    4-head L"), 8);  // one ablation row per head
  EXPECT_EQ(count_occurrences(r.out, "    1-head L"), 2);
  EXPECT_NE(r.out.find("4-head L2 H4"), std::string::npos);
  const std::string page = slurp(html);
  EXPECT_NE(page.find("\"focus\":7"), std::string::npos);  // "telescope"
  EXPECT_NE(page.find("\"importance\":{"), std::string::npos);
}

}  // namespace
}  // namespace mha::testing
