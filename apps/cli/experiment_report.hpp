// The results of `mha experiment heads` and the files made from them: JSON (every number), a
// markdown page (docs/experiments.md), an SVG figure of the metrics against heads and one of the
// learning curves. The tables and figures are the grid's (experiment_grid.hpp); this file adds
// what is particular to the heads experiment: its metrics, its command line and its verdict.
//
// Statistics over seeds (mha/train/statistics.hpp): mean ± the half-width of the 95% Student's t
// interval, and Welch's t-test of each multi-head setting against 1 head. The verdict compares
// the best multi-head setting with one head on the PP-noun mass (pp_mass: the mean probability
// put on allowed words at the prepositional phrases' nouns, which does not saturate as the
// argmax rates do) and calls the difference significant when Welch's two-sided p, multiplied by
// the number of multi-head settings compared (Bonferroni: the best of k was picked), is below
// 0.05.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment_grid.hpp"
#include "mha/train/trainer.hpp"

namespace mha::cli {

// What the command line asked for; enough to print the command back.
struct HeadsExperimentSettings {
  std::vector<Index> heads;  // ascending, distinct, each dividing d_model
  Index seeds = 3, steps = 1000, d_model = 32, layers = 1, batch = 64;
  double lr = 2e-3;
  int threads = 1;     // per run
  int jobs = 1;        // runs at once
  Index curve_points = 20;
  std::string kernel;
  std::string markdown, svg, curves, json;  // output files ("" = not written)
  std::string resume;  // the resume file ("" = default_resume_file(json))
  std::string language = "attachment";  // --language; echoed only when not the default
};

struct HeadsExperiment {
  HeadsExperimentSettings settings;
  train::TrainingConfig base;  // the settings of every run (heads and seed aside)
  std::string machine;         // CPU model and logical CPU count
  std::string date;            // when the last run finished, UTC
  std::vector<GridRunResult> runs;  // heads ascending, then seeds
};

// The table's metrics, in order (keys as in the JSON): accuracy, grammatical, mass, pp_accuracy,
// pp_grammatical, pp_mass, pp_loss, loss; mass, pp_mass and pp_loss are tested against 1 head.
// "mass" is the mean probability the model puts on the words the grammar allows at the masked
// position: unlike the argmax rates it keeps improving after the argmax is always right.
const std::vector<GridMetric>& heads_metrics();
// A run's metrics from its held-out evaluation: heads_metrics() then examples, pp_examples.
std::vector<std::pair<std::string, double>> heads_metric_values(const train::Evaluation& e);

// "1,2,4,8".
std::string heads_list(const std::vector<Index>& heads);
// The command that reproduces the experiment, every option spelled out.
std::string command_line(const HeadsExperimentSettings& s);
// What decides a run's numbers besides its heads and seed (the resume file's fingerprint): the
// command line without --heads, --seeds, --jobs and the output files.
std::string run_settings(const HeadsExperimentSettings& s);
// "<model name> (<n> logical CPUs)" from /proc/cpuinfo; "unknown CPU" when it cannot be read.
std::string machine_description();
// A Unix time as "YYYY-MM-DD HH:MM UTC".
std::string utc_time(std::int64_t unix_time);

// The verdict of the PP-noun mass comparison (see the top of this file).
std::string verdict(const HeadsExperiment& e);

std::string experiment_json(const HeadsExperiment& e);
// `svg_link`, `curves_link`: the figures' paths relative to the markdown file ("" = none).
std::string experiment_markdown(const HeadsExperiment& e, const std::string& svg_link,
                                const std::string& curves_link);
std::string experiment_svg(const HeadsExperiment& e);
std::string experiment_curves_svg(const HeadsExperiment& e);

}  // namespace mha::cli
