// `mha experiment heads`: a tiny grid writes the reports (markdown, two SVGs, JSON) with the
// promised structure and statistics (t-intervals, Welch p-values); --jobs 2 gives the numbers of
// --jobs 1; a rerun resumes from the resume file, which refuses other settings and survives a
// line cut short; every bad --heads gives one line naming --heads before any training starts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mha/kernels/attention.hpp"
#include "mha/train/statistics.hpp"
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
                 curves = dir / "figures" / "curves.svg", json = dir / "heads.json";
  fs::create_directories(svg.parent_path());
  const CliResult r = run_mha(kGrid + " --heads 2,1 --markdown " + md.string() + " --svg " +
                              svg.string() + " --curves " + curves.string() + " --json " +
                              json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One line per run, in ascending heads order whatever order --heads gave.
  const std::size_t one = r.out.find("heads  1  seed 0  accuracy "),
                    two = r.out.find("heads  2  seed 0  accuracy ");
  ASSERT_NE(one, std::string::npos) << r.out;
  ASSERT_NE(two, std::string::npos) << r.out;
  EXPECT_LT(one, two);

  const std::string page = slurp(md);
  EXPECT_EQ(page.rfind("# ", 0), 0u) << "the page does not start with a title";
  EXPECT_NE(page.find("| heads | head_dim | parameters | n | accuracy | grammatical | mass on "
                      "grammatical words | mass on grammatical words p vs 1 head | PP-noun accuracy | "
                      "PP-noun grammatical | PP-noun mass | PP-noun mass p vs 1 head | PP-noun loss | "
                      "PP-noun loss p vs 1 head | held-out loss |"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("One seed per setting"), std::string::npos) << page;
  EXPECT_NE(page.find("\n| 1 | 8 | "), std::string::npos) << page;  // heads 1: head_dim 8
  EXPECT_NE(page.find("\n| 2 | 4 | "), std::string::npos) << page;  // heads 2: head_dim 4
  EXPECT_NE(page.find("mha experiment heads --heads 1,2 --seeds 1 --steps 4 --d-model 8 --layers 1 "
                      "--batch 8 --lr 0.002 --threads 1 --kernel cpu --jobs 1 --curve-points 20"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("](figures/heads.svg)"), std::string::npos)
      << "figure link relative to the page";
  EXPECT_NE(page.find("](figures/curves.svg)"), std::string::npos);
  EXPECT_NE(page.find("## Every run\n\n| heads | seed | accuracy |"), std::string::npos) << page;
  EXPECT_NE(page.find("language.md"), std::string::npos);
  EXPECT_NE(page.find("On the PP-noun mass (the probability put on the words the grammar allows) the best multi-head setting, 2 heads"),
            std::string::npos)
      << page;

  const std::string figure = slurp(svg);
  EXPECT_EQ(figure.rfind("<svg", 0), 0u) << figure.substr(0, 80);
  EXPECT_NE(figure.find(R"(xmlns="http://www.w3.org/2000/svg")"), std::string::npos);
  // Series 0: mass over all words, series 1: PP nouns; one mean and one seed per heads value,
  // no interval bars with one seed.
  EXPECT_EQ(count_occurrences(figure, R"(class="mean series-0")"), 2);
  EXPECT_EQ(count_occurrences(figure, R"(class="mean series-1")"), 2);
  EXPECT_EQ(count_occurrences(figure, R"(class="seed series-0")"), 2);
  EXPECT_EQ(count_occurrences(figure, R"(class="interval )"), 0);
  EXPECT_GE(count_occurrences(figure, R"(class="ytick")"), 3);
  EXPECT_EQ(figure.substr(figure.size() - 7), "</svg>\n");

  const std::string learning = slurp(curves);
  EXPECT_EQ(learning.rfind("<svg", 0), 0u);
  EXPECT_EQ(count_occurrences(learning, R"(class="curve heads-1")"), 1);
  EXPECT_EQ(count_occurrences(learning, R"(class="band heads-2")"), 1);
  EXPECT_EQ(learning.substr(learning.size() - 7), "</svg>\n");

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
  // Learning curves: 4 steps, evaluated after each (--curve-points 20 > steps), the last one the
  // final evaluation.
  const auto& curve = doc["runs"][0]["curve"];
  ASSERT_EQ(curve.size(), 4u);
  EXPECT_EQ(curve[3][0], 4);
  EXPECT_EQ(curve[3][1].get<double>(), doc["runs"][0]["loss"].get<double>());
  // Only the outputs, the folder and the resume file are left: no temporary files.
  EXPECT_TRUE(fs::exists(dir / "heads.runs.jsonl"));
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::recursive_directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 6);
}

TEST(CliExperiment, SummaryIsMeanSdTIntervalAndWelchAgainstOneHead) {
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
      // n = 2: the 95% half-width is t_{0.975, 1} · s / √2 = 12.706 · |a − b| / 2.
      EXPECT_NEAR(summary[metric]["ci95_half_width"].get<double>(),
                  12.706204736174705 * std::abs(a - b) / 2, 1e-9)
          << metric;
    }
  }
  // PP-noun mass is tested: 2 heads against 1 head, Welch's test on the two seeds of each.
  const std::vector<double> one = {doc["runs"][0]["pp_mass"], doc["runs"][1]["pp_mass"]};
  const std::vector<double> two = {doc["runs"][2]["pp_mass"], doc["runs"][3]["pp_mass"]};
  const train::WelchTest w = train::welch_t_test(two, one);
  const auto& welch = doc["summary"][1]["pp_mass"]["welch_vs_1_head"];
  EXPECT_NEAR(welch["difference"].get<double>(), w.difference, 1e-12);
  EXPECT_NEAR(welch["p"].get<double>(), w.p_value, 1e-12);
  EXPECT_NEAR(welch["dof"].get<double>(), w.dof, 1e-9);
  EXPECT_FALSE(doc["summary"][0]["pp_mass"].contains("welch_vs_1_head")) << "the baseline row";
  EXPECT_FALSE(doc["summary"][1]["accuracy"].contains("welch_vs_1_head")) << "not a tested metric";
  EXPECT_NE(doc["verdict"].get<std::string>().find("Welch's t-test p"), std::string::npos)
      << doc["verdict"];
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

// The JSON without what may differ between two invocations: the wall times and the command.
nlohmann::json numbers_of(const fs::path& json) {
  nlohmann::json doc = nlohmann::json::parse(slurp(json));
  for (auto& run : doc.at("runs")) run.erase("seconds");
  doc.erase("command");
  doc.erase("date");
  doc["config"].erase("jobs");
  return doc;
}

TEST(CliExperiment, JobsTwoGivesTheNumbersOfJobsOne) {
  const fs::path dir = scratch_dir(), one = dir / "one.json", two = dir / "two.json";
  const std::string grid = "experiment heads --heads 1,2 --seeds 2 --steps 3 --d-model 8 --batch 8 --threads 1";
  const CliResult a = run_mha(grid + " --jobs 1 --json " + one.string());
  const CliResult b = run_mha(grid + " --jobs 2 --json " + two.string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("2 runs at once"), std::string::npos) << b.out;
  EXPECT_EQ(count_occurrences(b.out, "  seed "), 4) << b.out;
  EXPECT_EQ(numbers_of(one), numbers_of(two));
}

TEST(CliExperiment, RerunResumesEveryRunAndWritesTheSameJson) {
  const fs::path dir = scratch_dir(), json = dir / "heads.json", md = dir / "heads.md";
  auto command_with = [&](int seeds) {
    return "experiment heads --heads 1,2 --seeds " + std::to_string(seeds) +
           " --steps 3 --d-model 8 --batch 8 --threads 1 --jobs 2 --json " + json.string() +
           " --markdown " + md.string();
  };
  const std::string command = command_with(2);
  const CliResult first = run_mha(command);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.find("resumed"), std::string::npos) << first.out;
  const std::string json_before = slurp(json), page_before = slurp(md);
  const CliResult again = run_mha(command);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("resumed 4 of 4 runs from " + (dir / "heads.runs.jsonl").string()),
            std::string::npos)
      << again.out;
  EXPECT_EQ(count_occurrences(again.out, "  seed "), 4) << "a line per run, resumed ones too";
  EXPECT_EQ(slurp(json), json_before);  // to the byte: numbers, times and the date
  EXPECT_EQ(slurp(md), page_before);
  // More seeds: only the new ones are trained.
  const CliResult more = run_mha(command_with(3));
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_NE(more.out.find("resumed 4 of 6 runs"), std::string::npos) << more.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(json)).at("runs").size(), 6u);
}

TEST(CliExperiment, ResumeFileOfOtherSettingsIsRefused) {
  const fs::path dir = scratch_dir(), json = dir / "heads.json", runs = dir / "heads.runs.jsonl";
  ASSERT_EQ(run_mha(kGrid + " --heads 1 --json " + json.string()).exit_code, 0);
  const CliResult r = run_mha(
      "experiment heads --heads 1 --seeds 1 --steps 5 --d-model 8 --layers 1 --batch 8 --threads 1 "
      "--json " + json.string());
  EXPECT_TRUE(fails_naming(r, runs.string())) << r.err;
  EXPECT_NE(r.err.find("--steps 4"), std::string::npos) << "says which setting differs: " << r.err;
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out.find("seed 0  accuracy"), std::string::npos) << "trained despite the refusal";
  // Another resume file is a fresh start.
  const CliResult other = run_mha(
      "experiment heads --heads 1 --seeds 1 --steps 5 --d-model 8 --layers 1 --batch 8 --threads 1 "
      "--json " + json.string() + " --resume " + (dir / "other.jsonl").string());
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

TEST(CliExperiment, ResumeIgnoresALastLineCutShortAndRefusesABrokenOne) {
  const fs::path dir = scratch_dir(), json = dir / "heads.json", runs = dir / "heads.runs.jsonl";
  const std::string command = kGrid + " --heads 1,2 --json " + json.string();
  ASSERT_EQ(run_mha(command).exit_code, 0);
  const nlohmann::json before = numbers_of(json);
  const std::string full = slurp(runs);
  ASSERT_EQ(count_lines(full), 2);
  const std::size_t second = full.find('\n') + 1;
  // An interrupted write: half of the second line, no newline.
  {
    std::ofstream out(runs, std::ios::binary | std::ios::trunc);
    out << full.substr(0, second + (full.size() - second) / 2);
  }
  const CliResult r = run_mha(command);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: " + runs.string() + ": ignoring line 2, cut short"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("resumed 1 of 2 runs"), std::string::npos) << r.out;
  EXPECT_EQ(numbers_of(json), before);
  EXPECT_EQ(count_lines(slurp(runs)), 2) << "the cut line is replaced, not appended to";
  for (const std::string& line : {full.substr(0, second), slurp(runs).substr(second)})
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;

  // A broken line that is not the last is an error naming the file and the line.
  {
    std::ofstream out(runs, std::ios::binary | std::ios::trunc);
    out << "{not json\n" << full;
  }
  const CliResult broken = run_mha(command);
  EXPECT_TRUE(fails_naming(broken, runs.string() + " line 1")) << broken.err;
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
