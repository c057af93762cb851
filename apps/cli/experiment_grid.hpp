// A grid of training runs (the `mha experiment` commands): run them, N at once, with a progress
// bar and a resume file, then report them: markdown tables with t-intervals and Welch p-values,
// SVG interval plots and learning curves. Generic over what a run trains: a run is a function that
// returns a GridRunResult; an experiment chooses the ids, groups and metrics.
//
//   runner   experiment_grid.cpp         run_grid, train_grid_run
//   resume   experiment_grid_resume.cpp  the JSON Lines file
//   tables   experiment_grid_report.cpp  summarize_grid, markdown, JSON
//   figures  experiment_svg.cpp          grid_interval_svg, grid_curves_svg
//
// Statistics: mha/train/statistics.hpp (mean, sample sd, Student's t interval, Welch's test).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mha/train/statistics.hpp"
#include "mha/train/trainer.hpp"

namespace mha::cli {

// ---------------------------------------------------------------------------------------------
// Runs

struct CurvePoint {
  Index step = 0;
  double loss = 0;  // held-out loss after `step` steps
};

struct GridRunResult {
  std::string id;     // unique and stable across invocations, e.g. "k=2 heads=4 seed=3"
  std::string group;  // a table / plot series, e.g. "k=2" ("" when the grid has one group)
  Index heads = 0, head_dim = 0, seed = 0, parameters = 0;
  std::vector<std::pair<std::string, double>> metrics;  // ordered: key → value
  std::vector<CurvePoint> curve;                        // ascending steps
  double seconds = 0;         // the run's wall time
  std::int64_t finished = 0;  // Unix time the run finished (set by run_grid; kept on resume)

  // The value of metric `key`; NaN when the run has none.
  double metric(const std::string& key) const;
};

// A job's way to say how far it is (steps done of total); thread-safe, may be ignored.
using GridProgress = std::function<void(Index done, Index total)>;

struct GridJob {
  std::string id, group;  // copied into the result (whatever `run` put there)
  Index heads = 0, seed = 0;
  // Trains one model: a pure function of the job (and the settings) that must not print. Runs on
  // a worker thread when --jobs > 1, so it builds its own Context and touches no shared state.
  std::function<GridRunResult(const GridProgress&)> run;
};

struct GridOptions {
  int jobs = 1;             // runs at once, each on its own std::thread
  std::string resume_file;  // "" = none
  // Everything besides the job ids that decides a run's numbers (e.g. the command line without
  // the grid axes and the output files). Stored in every line of the resume file; a file with
  // another fingerprint is refused rather than mixed in.
  std::string settings;
  bool progress = true;     // the progress bar on stderr, drawn only when stderr is a terminal
};

// Runs every job not already in the resume file, `jobs` at once, and returns the results in job
// order (whatever order they finished in). Prints to stdout "resumed N of M runs from FILE" when
// it loaded any, then `line(result)` for each run: the resumed ones first (job order), then the
// others as they finish. Each finished run is appended to the resume file and fsync'ed before its
// line is printed, so an interrupted grid loses at most the runs in flight.
//
// Resume file: JSON Lines, one finished run per line:
//   {"settings":S,"id":…,"group":…,"heads":…,"head_dim":…,"seed":…,"parameters":…,
//    "seconds":…,"finished":…,"metrics":{key:value,…},"curve":[[step,loss],…]}
// A missing file is a fresh start. A last line without its newline (an interrupted write) is
// dropped with a warning on stderr; any other malformed line, or a line whose settings differ
// from options.settings, throws mha::Error naming the file. Lines with ids not in `jobs` (e.g. a
// seed the command no longer asks for) are kept in the file and not returned.
// A job that throws stops the grid: no new job starts, the ones running finish (and are saved),
// then the exception propagates.
std::vector<GridRunResult> run_grid(const std::vector<GridJob>& jobs, const GridOptions& options,
                                    const std::function<std::string(const GridRunResult&)>& line);

// The resume file for --json FILE: FILE with ".json" replaced by ".runs.jsonl" (".runs.jsonl"
// appended to other names), so rerunning a --json command resumes it; "" for "".
std::string default_resume_file(const std::string& json_path);

// One resume-file line (without the newline) and back. from_json_line throws mha::Error naming
// `where` (e.g. "FILE line 3") on a malformed line; it returns the line's settings in `settings`.
std::string to_json_line(const GridRunResult& run, const std::string& settings);
GridRunResult from_json_line(const std::string& line, const std::string& where,
                             std::string& settings);

// A run of the masked-token Trainer: trains `config` and returns the result with heads,
// head_dim, seed, parameters, seconds and the curve (the held-out loss at `curve_points` evenly
// spaced steps, every steps/curve_points, and at the last step; 0 = the last step only) filled
// in, and the final held-out evaluation. The caller sets id, group and metrics.
struct TrainedRun {
  GridRunResult result;
  train::Evaluation evaluation;
};
TrainedRun train_grid_run(train::TrainingConfig config, const lang::AttachmentGrammar& grammar,
                          const Context& ctx, Index curve_points, const GridProgress& progress);

// ---------------------------------------------------------------------------------------------
// Tables

struct GridMetric {
  std::string key;      // GridRunResult::metrics key, JSON key
  std::string label;    // table heading, e.g. "PP-noun mass"
  bool tested = false;  // report Welch's p-value against heads = 1 of the same group
  int decimals = 3;
};

// One (group, heads) cell of the grid over its seeds.
struct GridSummaryRow {
  std::string group;
  Index heads = 0, head_dim = 0, parameters = 0, runs = 0;
  std::vector<train::Summary> metrics;  // one per GridMetric, in order (95% t-intervals)
  // One per GridMetric: Welch's test of this row against heads = 1 of the same group, this row
  // minus the baseline. All NaN where the metric is not tested, for the baseline row itself and
  // where the group has no heads = 1 runs.
  std::vector<train::WelchTest> against_one;
};

// The groups in order of first appearance.
std::vector<std::string> grid_groups(const std::vector<GridRunResult>& runs);
// The values of `key` over the runs of (group, heads), in run order.
std::vector<double> grid_values(const std::vector<GridRunResult>& runs, const std::string& group,
                                Index heads, const std::string& key);
// Rows by group (first appearance), then ascending heads.
std::vector<GridSummaryRow> summarize_grid(const std::vector<GridRunResult>& runs,
                                           const std::vector<GridMetric>& metrics);
const GridSummaryRow* find_row(const std::vector<GridSummaryRow>& rows, const std::string& group,
                               Index heads);

// The sentence that says what the table cells are (for the page above the tables).
std::string grid_statistics_note(Index seeds);
// One table per group (preceded by "`heading` <group>" when the group is not ""): heads,
// head_dim, parameters, n, then per metric "mean ± half-width" and, for tested metrics, a
// "<label> p vs 1 head" column. Cells: "0.927 ± 0.005", "0.927" (n = 1), p "0.021", "< 0.001", "—".
std::string grid_results_markdown(const std::vector<GridSummaryRow>& rows,
                                  const std::vector<GridMetric>& metrics,
                                  const std::string& heading = "###");
// Every run: (group,) heads, seed, each metric, seconds — in run order.
std::string grid_runs_markdown(const std::vector<GridRunResult>& runs,
                               const std::vector<GridMetric>& metrics);

// JSON: the runs (as in the resume file, without settings) and the rows
// ({group, heads, head_dim, parameters, runs, <key>: {mean, sd, min, max, ci95_low, ci95_high,
//   ci95_half_width[, welch_vs_1_head: {difference, t, dof, p}]}}); NaN → null.
nlohmann::ordered_json grid_runs_json(const std::vector<GridRunResult>& runs);
nlohmann::ordered_json grid_summary_json(const std::vector<GridSummaryRow>& rows,
                                         const std::vector<GridMetric>& metrics);

// "1m05s", "42s".
std::string format_duration(double seconds);

// ---------------------------------------------------------------------------------------------
// Figures (SVG 1.1 text, deterministic given the numbers)

struct IntervalSeries {
  std::string label;   // legend text
  std::string group;   // which runs
  std::string metric;  // which GridMetric key
};

// A metric against heads (log₂ x axis): per series the mean at each heads value with its 95%
// t-interval as an error bar, every seed as a small dot, the means joined by a line; the y axis
// spans the data (intervals included) with 1-2-5 ticks; a legend.
struct IntervalPlot {
  std::string title, y_label;
  std::string x_label = "heads (log scale)";
  std::vector<IntervalSeries> series;
  // The values the metric can take (e.g. 0 and 1 for a probability): the y axis stops there,
  // and intervals that reach past it (few seeds) are cut at the edge of the plot.
  double lower_bound = -std::numeric_limits<double>::infinity();
  double upper_bound = std::numeric_limits<double>::infinity();
};
std::string grid_interval_svg(const std::vector<GridRunResult>& runs, const IntervalPlot& plot);
// One series per group of `metric`, labelled by the group ("all runs" for "").
std::vector<IntervalSeries> series_per_group(const std::vector<GridRunResult>& runs,
                                             const std::string& metric);

// Held-out loss against step: one panel per group, one line per heads value (the mean over
// seeds at each step) with its 95% t-interval as a shaded band.
struct CurvePlot {
  std::string title;
  std::string y_label = "held-out loss (nats)";
  double lower_bound = 0;  // as IntervalPlot's: a loss is never below 0
  double upper_bound = std::numeric_limits<double>::infinity();
};
std::string grid_curves_svg(const std::vector<GridRunResult>& runs, const CurvePlot& plot);

}  // namespace mha::cli
