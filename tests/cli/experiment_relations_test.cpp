// `mha experiment relations`: a tiny grid writes the page (the task, the equal-weight ceilings,
// the command, the t-interval table with p-values against one head), the two figures and the
// JSON; a rerun resumes every run; bad axes are refused with one line before training starts.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

const std::string kGrid =
    "experiment relations --relations 2,1 --heads 2,1 --seeds 2 --steps 3 --d-model 8 --batch 4 "
    "--threads 1";

TEST(CliExperimentRelations, TinyGridWritesThePageFiguresAndJsonAndResumes) {
  const fs::path dir = scratch_dir();
  const fs::path md = dir / "relations.md", svg = dir / "relations.svg",
                 curves = dir / "curves.svg", json = dir / "relations.json";
  const std::string command = kGrid + " --markdown " + md.string() + " --svg " + svg.string() +
                              " --curves " + curves.string() + " --json " + json.string();
  const CliResult r = run_mha(command);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("k 2,1 × heads 2,1 × seeds 0..1 = 8 runs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("k=1 heads=1 seed=0"), std::string::npos) << r.out;

  const std::string page = slurp(md);
  EXPECT_EQ(page.rfind("# Experiment: k relations at once", 0), 0u);
  // The ceilings of an equal-weight head: k = 1 → 1, k = 2 with 4 values → 0.625.
  EXPECT_NE(page.find("| 1 | 1.000 | 1.000 | 1.000 | 1.000 |"), std::string::npos) << page;
  EXPECT_NE(page.find("| 2 | 0.625 | 0.625 | 1.000 | 0.6"), std::string::npos) << page;
  EXPECT_NE(page.find("mha experiment relations --relations 2,1 --heads 2,1 --seeds 2 --steps 3 --d-model 8"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("p vs 1 head"), std::string::npos) << page;
  EXPECT_NE(page.find("k=2"), std::string::npos);
  EXPECT_NE(page.find("](relations.svg)"), std::string::npos);
  EXPECT_NE(page.find("](curves.svg)"), std::string::npos);
  EXPECT_EQ(slurp(svg).rfind("<svg", 0), 0u);
  EXPECT_EQ(slurp(curves).rfind("<svg", 0), 0u);

  const auto doc = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(doc.at("runs").size(), 8u);
  // Equal d_model: the parameter count does not depend on the heads, only on k (the answers).
  const auto& runs = doc["runs"];
  EXPECT_EQ(runs[0]["group"], "k=1");
  EXPECT_EQ(runs[0]["heads"], 1);
  EXPECT_EQ(runs[0]["parameters"], runs[2]["parameters"]);
  EXPECT_NE(runs[0]["parameters"], runs[4]["parameters"]);
  EXPECT_TRUE(runs[4]["metrics"].contains("relation_2_accuracy"));
  // Curve: step 0 (untrained) and the last step, which is the final evaluation.
  const auto& curve = runs[0]["curve"];
  EXPECT_EQ(curve.front()[0], 0);
  EXPECT_EQ(curve.back()[0], 3);
  EXPECT_EQ(curve.back()[1].get<double>(), runs[0]["metrics"]["loss"].get<double>());

  const CliResult again = run_mha(command);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("resumed 8 of 8 runs"), std::string::npos) << again.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(json))["runs"], runs);
}

TEST(CliExperimentRelations, AttentionOnlyAndEqualHeadWidthRun) {
  const fs::path dir = scratch_dir(), json = dir / "r.json";
  const CliResult r = run_mha(
      "experiment relations --relations 1 --heads 1,2 --seeds 1 --steps 2 --head-dim 4 --d-ff 0 "
      "--batch 4 --threads 1 --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(doc["runs"][0]["head_dim"], 4);
  EXPECT_EQ(doc["runs"][1]["head_dim"], 4);
  EXPECT_LT(doc["runs"][0]["parameters"].get<long>(), doc["runs"][1]["parameters"].get<long>());
}

TEST(CliExperimentRelations, BadAxesAreOneLineErrors) {
  for (const auto& [args, part] : {std::pair{"--relations 0,2", "--relations"},
                                   std::pair{"--relations 2,2", "--relations"},
                                   std::pair{"--relations 1,x", "--relations"},
                                   std::pair{"--heads 3", "--heads"},
                                   std::pair{"--heads ''", "--heads"}}) {
    const CliResult r = run_mha(std::string("experiment relations --steps 1 --d-model 8 ") + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(r.out.find("relation accuracy"), std::string::npos) << "trained before refusing";
  }
}

}  // namespace
}  // namespace mha::testing
