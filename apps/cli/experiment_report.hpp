// The results of `mha experiment heads` and the three files made from them: JSON (every number),
// a markdown page (docs/experiments.md) and an SVG figure.
//
// Statistics over seeds: mean, sample standard deviation s = √(Σ(xᵢ − x̄)² / (n − 1)) (undefined,
// NaN, for n = 1), min and max. The markdown's verdict compares the best multi-head setting with
// one head on the PP-noun mass (pp_mass: the mean probability put on allowed words at the
// prepositional phrases' nouns, which does not saturate as the argmax rates do) and calls the
// difference larger than the seed spread only when the two mean ± s intervals do not overlap:
// |x̄_best − x̄₁| > s_best + s₁.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "mha/train/trainer.hpp"

namespace mha::cli {

// What the command line asked for; enough to print the command back.
struct HeadsExperimentSettings {
  std::vector<Index> heads;  // ascending, distinct, each dividing d_model
  Index seeds = 3, steps = 1000, d_model = 32, layers = 1, batch = 64;
  double lr = 2e-3;
  int threads = 1;
  std::string kernel;
  std::string markdown, svg, json;  // output files ("" = not written)
};

// One trained model and its held-out evaluation.
struct HeadsRun {
  Index heads = 0, seed = 0, parameters = 0;
  train::Evaluation evaluation;
  double seconds = 0;  // training and the final evaluation
};

struct HeadsExperiment {
  HeadsExperimentSettings settings;
  train::TrainingConfig base;  // the settings of every run (heads and seed aside)
  std::string machine;         // CPU model and logical CPU count
  std::string date;            // when the grid finished, UTC
  std::vector<HeadsRun> runs;
};

// The reported quantities, in table order.
// "mass" is the mean probability the model puts on the words the grammar allows at the masked
// position: unlike the argmax rates it keeps improving after the argmax is always right.
// (experiment_report.cpp keeps one row per metric in this order.)
enum class Metric { accuracy, grammatical, mass, pp_accuracy, pp_grammatical, pp_mass, pp_loss, loss };
inline constexpr Metric kMetrics[] = {Metric::accuracy,    Metric::grammatical,    Metric::mass,
                                      Metric::pp_accuracy, Metric::pp_grammatical, Metric::pp_mass,
                                      Metric::pp_loss,     Metric::loss};
const char* metric_key(Metric m);    // JSON key, e.g. "pp_grammatical"
const char* metric_label(Metric m);  // table heading, e.g. "PP-noun grammatical"
double metric_value(const train::Evaluation& e, Metric m);

struct Spread {
  double mean = 0, sd = 0, min = 0, max = 0;  // sd: NaN for a single value
  Index count = 0;
};
Spread spread_of(std::span<const double> values);
// `m` over the runs with `heads` heads.
Spread spread_of(const HeadsExperiment& e, Index heads, Metric m);

// "1,2,4,8".
std::string heads_list(const std::vector<Index>& heads);
// The command that reproduces the experiment, every option spelled out.
std::string command_line(const HeadsExperimentSettings& s);
// "<model name> (<n> logical CPUs)" from /proc/cpuinfo; "unknown CPU" when it cannot be read.
std::string machine_description();
// The current UTC time as "YYYY-MM-DD HH:MM UTC".
std::string utc_now();

// The one-sentence verdict of the PP-noun grammatical comparison (see the top of this file).
std::string verdict(const HeadsExperiment& e);

std::string experiment_json(const HeadsExperiment& e);
// `svg_link`: the figure's path relative to the markdown file ("" = no figure).
std::string experiment_markdown(const HeadsExperiment& e, const std::string& svg_link);
std::string experiment_svg(const HeadsExperiment& e);

}  // namespace mha::cli
