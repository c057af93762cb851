// `mha experiment heads`: a tiny grid writes the three reports (markdown, SVG, JSON) with the
// promised structure and statistics, and every bad --heads gives one line naming --heads before
// any training starts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "mha/kernels/attention.hpp"
#include "mha/train/trainer.hpp"
#include "run_cli.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

const std::string kGrid =
    "experiment heads --seeds 1 --steps 4 --d-model 8 --layers 1 --batch 8 --threads 1";

TEST(CliExperiment, TinyGridWritesMarkdownSvgAndJson) {
  const fs::path dir = scratch_dir();
  const fs::path md = dir / "experiments.md", svg = dir / "figures" / "heads.svg",
                 json = dir / "heads.json";
  fs::create_directories(svg.parent_path());
  const CliResult r = run_mha(kGrid + " --heads 2,1 --markdown " + md.string() + " --svg " +
                              svg.string() + " --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One line per run, in ascending heads order whatever order --heads gave.
  const std::size_t one = r.out.find("heads  1  seed 0  accuracy "),
                    two = r.out.find("heads  2  seed 0  accuracy ");
  ASSERT_NE(one, std::string::npos) << r.out;
  ASSERT_NE(two, std::string::npos) << r.out;
  EXPECT_LT(one, two);

  const std::string page = slurp(md);
  EXPECT_EQ(page.rfind("# ", 0), 0u) << "the page does not start with a title";
  EXPECT_NE(page.find("| heads | head_dim | parameters | accuracy | grammatical | mass on grammatical "
                      "words | PP-noun accuracy | PP-noun grammatical | PP-noun mass | PP-noun loss | "
                      "held-out loss |"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("\n| 1 | 8 | "), std::string::npos) << page;  // heads 1: head_dim 8
  EXPECT_NE(page.find("\n| 2 | 4 | "), std::string::npos) << page;  // heads 2: head_dim 4
  EXPECT_NE(page.find("mha experiment heads --heads 1,2 --seeds 1 --steps 4 --d-model 8 --layers 1 "
                      "--batch 8 --lr 0.002 --threads 1 --kernel "),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("](figures/heads.svg)"), std::string::npos)
      << "figure link relative to the page";
  EXPECT_NE(page.find("language.md"), std::string::npos);
  EXPECT_NE(page.find("On the PP-noun mass (the probability put on the words the grammar allows) the best multi-head setting, 2 heads"),
            std::string::npos)
      << page;

  const std::string figure = slurp(svg);
  EXPECT_EQ(figure.rfind("<svg", 0), 0u) << figure.substr(0, 80);
  EXPECT_NE(figure.find(R"(xmlns="http://www.w3.org/2000/svg")"), std::string::npos);
  EXPECT_EQ(count_occurrences(figure, R"(class="mean overall")"), 2);
  EXPECT_EQ(count_occurrences(figure, R"(class="mean pp-noun")"), 2);
  EXPECT_EQ(count_occurrences(figure, R"(class="seed overall")"), 2);
  EXPECT_EQ(figure.substr(figure.size() - 7), "</svg>\n");

  const auto doc = nlohmann::json::parse(slurp(json));  // throws (fails the test) if malformed
  ASSERT_EQ(doc.at("runs").size(), 2u);
  EXPECT_EQ(doc["runs"][0]["heads"], 1);
  EXPECT_EQ(doc["runs"][1]["heads"], 2);
  EXPECT_EQ(doc["config"]["heads"], nlohmann::json::array({1, 2}));
  // The comparison is at equal parameter count: the count does not depend on the heads.
  EXPECT_GT(doc["runs"][0]["parameters"].get<long>(), 0);
  EXPECT_EQ(doc["runs"][0]["parameters"], doc["runs"][1]["parameters"]);
  ASSERT_EQ(doc.at("summary").size(), 2u);
  for (const char* metric : {"accuracy", "grammatical", "mass", "pp_accuracy", "pp_grammatical", "pp_mass", "pp_loss", "loss"}) {
    EXPECT_DOUBLE_EQ(doc["summary"][0][metric]["mean"].get<double>(),
                     doc["runs"][0][metric].get<double>())
        << metric;
    EXPECT_TRUE(doc["summary"][0][metric]["sd"].is_null()) << metric << ": one seed has no spread";
  }
  // Only the three outputs (and the folder) are left: no temporary files.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::recursive_directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 4);
}

TEST(CliExperiment, SummaryIsMeanAndSampleStandardDeviationOverSeeds) {
  const fs::path dir = scratch_dir(), json = dir / "heads.json";
  const CliResult r = run_mha(
      "experiment heads --heads 1,2 --seeds 2 --steps 2 --d-model 8 --layers 1 --batch 8 "
      "--threads 1 --json " +
      json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(doc.at("runs").size(), 4u);
  for (std::size_t h = 0; h < 2; ++h) {
    const auto& summary = doc["summary"][h];
    for (const char* metric : {"pp_grammatical", "pp_mass", "pp_loss", "loss"}) {
      const double a = doc["runs"][2 * h][metric], b = doc["runs"][2 * h + 1][metric];
      EXPECT_EQ(doc["runs"][2 * h]["seed"], 0);
      EXPECT_EQ(doc["runs"][2 * h + 1]["seed"], 1);
      EXPECT_NEAR(summary[metric]["mean"].get<double>(), (a + b) / 2, 1e-12) << metric;
      // n = 2: s = |a − b| / √2.
      EXPECT_NEAR(summary[metric]["sd"].get<double>(), std::abs(a - b) / std::sqrt(2.0), 1e-12)
          << metric;
      EXPECT_EQ(summary[metric]["min"].get<double>(), std::min(a, b)) << metric;
      EXPECT_EQ(summary[metric]["max"].get<double>(), std::max(a, b)) << metric;
    }
  }
  // The two seeds are different models.
  EXPECT_NE(doc["runs"][0]["loss"], doc["runs"][1]["loss"]);
}

// A run of the grid is exactly the `mha train` run with the same flags: the checkpoint `mha train`
// saves, scored in-process, gives the experiment's numbers to the last bit.
TEST(CliExperiment, EachRunIsTheMhaTrainRunWithTheSameFlags) {
  const fs::path dir = scratch_dir(), json = dir / "heads.json", model = dir / "model.safetensors";
  const std::string shared = " --steps 4 --d-model 8 --layers 1 --batch 8 --threads 1";
  ASSERT_EQ(run_mha("experiment heads --heads 2 --seeds 2" + shared + " --json " + json.string())
                .exit_code,
            0);
  ASSERT_EQ(
      run_mha("train --heads 2 --seed 1 --quiet" + shared + " --out " + model.string()).exit_code,
      0);
  const train::Checkpoint c = train::load_checkpoint(model);
  const train::TrainingConfig config = train::training_from_json(c.training_json);
  const lang::AttachmentGrammar grammar;
  const Transformer transformer(c.config, c.parameters);
  const Context ctx{
      // both commands' default --kernel, and --threads 1
      .kernel = KernelKind::cpu,
      .threads = 1};
  const train::Evaluation e = train::evaluate(
      transformer, train::make_eval_set(grammar, config.eval_examples, config.eval_seed), ctx);

  const auto doc = nlohmann::json::parse(slurp(json));
  const auto& run = doc.at("runs").at(1);
  ASSERT_EQ(run["seed"], 1);
  EXPECT_EQ(run["loss"].get<double>(), e.loss);
  EXPECT_EQ(run["accuracy"].get<double>(), e.accuracy);
  EXPECT_EQ(run["grammatical"].get<double>(), e.valid);
  EXPECT_EQ(run["pp_accuracy"].get<double>(), e.two_relation_accuracy);
  EXPECT_EQ(run["pp_grammatical"].get<double>(), e.two_relation_valid);
  EXPECT_EQ(run["pp_mass"].get<double>(), e.two_relation_allowed_mass);
  EXPECT_EQ(run["pp_loss"].get<double>(), e.two_relation_loss);
  EXPECT_EQ(run["pp_examples"].get<Index>(), e.two_relation_examples);
}

TEST(CliExperiment, BadHeadsGiveOneLineNamingHeads) {
  const fs::path dir = scratch_dir(), json = dir / "never.json";
  for (const std::string heads : {"0", "3", "1,1", "''", "1,,2", "two"}) {
    const CliResult r = run_mha(kGrid + " --heads " + heads + " --json " + json.string());
    EXPECT_TRUE(fails_naming(r, "--heads")) << "--heads " << heads;
    EXPECT_EQ(r.out.find("seed 0"), std::string::npos) << "trained despite --heads " << heads;
  }
  EXPECT_FALSE(fs::exists(json));
}

TEST(CliExperiment, MissingOutputDirectoryFailsBeforeTraining) {
  const CliResult r = run_mha(kGrid + " --heads 1 --json /nonexistent-mha-dir/heads.json");
  EXPECT_TRUE(fails_naming(r, "--json"));
  EXPECT_EQ(r.out.find("seed 0"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mha::testing
