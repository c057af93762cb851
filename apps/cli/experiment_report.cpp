// JSON, markdown and figures for `mha experiment heads`, from the grid's tables and plots.
#include "experiment_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>

namespace mha::cli {
namespace {

using json = nlohmann::ordered_json;

// A word safe in a POSIX shell as it is, or the word in single quotes.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("_./-+,=:@%").find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

// "0.912 ± 0.010" (95% half-width), or "0.912" when one seed leaves no interval.
std::string mean_pm(const train::Summary& s) {
  return std::isnan(s.half_width) ? fmt::format("{:.3f}", s.mean)
                                  : fmt::format("{:.3f} ± {:.3f}", s.mean, s.half_width);
}

std::string p_text(double p) { return p < 0.001 ? "p < 0.001" : fmt::format("p = {:.3f}", p); }

// "+0.7", "−1.2", "0.0": a difference in points (hundredths).
std::string signed_points(double difference) {
  const double points = std::round(1000 * difference) / 10;
  if (points == 0) return "0.0";
  return fmt::format("{}{:.1f}", points > 0 ? "+" : "−", std::abs(points));
}

// The counts among a run's metrics, written as integers.
bool is_count(const std::string& key) { return key == "examples" || key == "pp_examples"; }

constexpr const char* kPrimary = "pp_mass";

std::size_t metric_index(const char* key) {
  const std::vector<GridMetric>& metrics = heads_metrics();
  for (std::size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i].key == key) return i;
  return 0;
}

}  // namespace

const std::vector<GridMetric>& heads_metrics() {
  static const std::vector<GridMetric> metrics = {
      {.key = "accuracy", .label = "accuracy", .tested = false, .decimals = 3},
      {.key = "grammatical", .label = "grammatical", .tested = false, .decimals = 3},
      {.key = "mass", .label = "mass on grammatical words", .tested = true, .decimals = 3},
      {.key = "pp_accuracy", .label = "PP-noun accuracy", .tested = false, .decimals = 3},
      {.key = "pp_grammatical", .label = "PP-noun grammatical", .tested = false, .decimals = 3},
      {.key = "pp_mass", .label = "PP-noun mass", .tested = true, .decimals = 3},
      {.key = "pp_loss", .label = "PP-noun loss", .tested = true, .decimals = 3},
      {.key = "loss", .label = "held-out loss", .tested = false, .decimals = 3},
  };
  return metrics;
}

std::vector<std::pair<std::string, double>> heads_metric_values(const train::Evaluation& e) {
  return {{"accuracy", e.accuracy},
          {"grammatical", e.valid},
          {"mass", e.allowed_mass},
          {"pp_accuracy", e.two_relation_accuracy},
          {"pp_grammatical", e.two_relation_valid},
          {"pp_mass", e.two_relation_allowed_mass},
          {"pp_loss", e.two_relation_loss},
          {"loss", e.loss},
          {"examples", static_cast<double>(e.examples)},
          {"pp_examples", static_cast<double>(e.two_relation_examples)}};
}

std::string heads_list(const std::vector<Index>& heads) {
  std::string text;
  for (const Index h : heads) text += (text.empty() ? "" : ",") + std::to_string(h);
  return text;
}

std::string run_settings(const HeadsExperimentSettings& s) {
  return fmt::format(
      "mha experiment heads --steps {} --d-model {} --layers {} --batch {} --lr {} --threads {} "
      "--kernel {} --curve-points {}",
      s.steps, s.d_model, s.layers, s.batch, s.lr, s.threads, shell_word(s.kernel), s.curve_points) +
         (s.language == "attachment" ? "" : " --language " + s.language);
}

std::string command_line(const HeadsExperimentSettings& s) {
  std::string cmd = fmt::format(
      "mha experiment heads --heads {} --seeds {} --steps {} --d-model {} --layers {} --batch {} "
      "--lr {} --threads {} --kernel {} --jobs {} --curve-points {}",
      heads_list(s.heads), s.seeds, s.steps, s.d_model, s.layers, s.batch, s.lr, s.threads,
      shell_word(s.kernel), s.jobs, s.curve_points);
  if (!s.markdown.empty()) cmd += " --markdown " + shell_word(s.markdown);
  if (!s.svg.empty()) cmd += " --svg " + shell_word(s.svg);
  if (!s.curves.empty()) cmd += " --curves " + shell_word(s.curves);
  if (!s.json.empty()) cmd += " --json " + shell_word(s.json);
  if (!s.resume.empty()) cmd += " --resume " + shell_word(s.resume);
  if (s.language != "attachment") cmd += " --language " + s.language;
  return cmd;
}

std::string machine_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::size_t start = line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) model = line.substr(start);
    break;
  }
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus > 0 ? fmt::format("{} ({} logical CPUs)", model, cpus) : model;
}

std::string utc_time(std::int64_t unix_time) {
  const auto t = static_cast<std::time_t>(unix_time);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
  return text;
}

std::string verdict(const HeadsExperiment& e) {
  const std::vector<Index>& heads = e.settings.heads;
  if (std::find(heads.begin(), heads.end(), Index{1}) == heads.end())
    return "The grid has no 1-head runs, so there is no single-head baseline to compare with.";
  const std::vector<GridSummaryRow> rows = summarize_grid(e.runs, heads_metrics());
  const std::size_t m = metric_index(kPrimary);
  const GridSummaryRow* best = nullptr;
  for (const GridSummaryRow& r : rows)
    if (r.heads > 1 && (best == nullptr || r.metrics[m].mean > best->metrics[m].mean)) best = &r;
  if (best == nullptr)
    return "The grid has only 1-head runs, so there is nothing to compare them with.";
  const GridSummaryRow& one = *find_row(rows, "", 1);
  const train::WelchTest& w = best->against_one[m];
  const Index compared = static_cast<Index>(rows.size()) - 1;
  std::string text = fmt::format(
      "On the PP-noun mass (the probability put on the words the grammar allows) the best "
      "multi-head setting, {} heads ({}), is {:.1f} points {} 1 head ({})",
      best->heads, mean_pm(best->metrics[m]), std::abs(100 * w.difference),
      w.difference >= 0 ? "above" : "below", mean_pm(one.metrics[m]));
  if (std::isnan(w.p_value)) {
    if (best->runs < 2 || one.runs < 2)
      return text + "; with a single seed per setting there is no seed spread to test it against.";
    return text + "; neither setting varies over the seeds, so there is no spread to test it "
                  "against.";
  }
  text += fmt::format("; the difference, {} points with a 95% interval of {} to {}, has Welch's "
                      "t-test {}",
                      signed_points(w.difference), signed_points(w.low), signed_points(w.high),
                      p_text(w.p_value));
  const double corrected = std::min(1.0, w.p_value * static_cast<double>(compared));
  const bool significant = corrected < 0.05;
  if (compared > 1)
    text += fmt::format(
        ". Picking the best of {} settings favours it: corrected for the {} comparisons "
        "(Bonferroni) {}, so the difference {}",
        compared, compared, p_text(corrected),
        significant ? "is significant at the 5% level"
                    : "is not significant at the 5% level: these runs do not separate the two");
  else
    text += significant ? ": significant at the 5% level"
                        : ": not significant at the 5% level, so these runs do not separate the two";
  text += ".";
  if (compared > 1) {
    text += " Every setting against 1 head:";
    bool first = true;
    for (const GridSummaryRow& r : rows) {
      if (r.heads == 1) continue;
      const train::WelchTest& t = r.against_one[m];
      text += fmt::format("{} {} heads {} points ({})", first ? "" : ";", r.heads,
                          signed_points(t.difference),
                          std::isnan(t.p_value) ? std::string("no test") : p_text(t.p_value));
      first = false;
    }
    text += ".";
  }
  return text;
}

std::string experiment_json(const HeadsExperiment& e) {
  const HeadsExperimentSettings& s = e.settings;
  json runs = json::array();
  for (const GridRunResult& r : e.runs) {
    json row = {{"heads", r.heads},
                {"head_dim", r.head_dim},
                {"seed", r.seed},
                {"parameters", r.parameters}};
    for (const auto& [key, value] : r.metrics)
      row[key] = is_count(key) ? json(static_cast<Index>(value)) : number_or_null(value);
    row["seconds"] = r.seconds;
    json curve = json::array();
    for (const CurvePoint& p : r.curve) curve.push_back(json::array({p.step, number_or_null(p.loss)}));
    row["curve"] = std::move(curve);
    runs.push_back(std::move(row));
  }
  const json doc = {
      {"experiment", "heads"},
      {"command", command_line(s)},
      {"machine", e.machine},
      {"date", e.date},
      {"config",
       {{"heads", s.heads},
        {"seeds", s.seeds},
        {"steps", s.steps},
        {"d_model", s.d_model},
        {"layers", s.layers},
        {"batch", s.batch},
        {"lr", s.lr},
        {"threads", s.threads},
        {"jobs", s.jobs},
        {"kernel", s.kernel},
        {"curve_points", s.curve_points},
        {"training", json::parse(train::training_to_json(e.base))}}},
      {"statistics",
       "mean, sample sd, min, max; ci95: Student's t interval of the mean (n - 1 dof); "
       "welch_vs_1_head: two-sided Welch's t-test against 1 head (this minus 1 head)"},
      {"runs", std::move(runs)},
      {"summary", grid_summary_json(summarize_grid(e.runs, heads_metrics()), heads_metrics())},
      {"verdict", verdict(e)}};
  return doc.dump(2) + "\n";
}

std::string experiment_markdown(const HeadsExperiment& e, const std::string& svg_link,
                                const std::string& curves_link) {
  const HeadsExperimentSettings& s = e.settings;
  const train::TrainingConfig& c = e.base;
  double seconds = 0;
  for (const GridRunResult& r : e.runs) seconds += r.seconds;
  const double examples = e.runs.empty() ? 0 : e.runs.front().metric("examples");
  const double pp_examples = e.runs.empty() ? 0 : e.runs.front().metric("pp_examples");

  std::string md;
  auto add = [&md](const std::string& text) { md += text; };
  add("# Experiment: one attention head or several?\n\n");
  add(
      fmt::format("Generated by `mha experiment heads` on {}. Rerun the command below to refresh "
                  "this page rather than editing it.\n\n",
                  e.date));

  add("## What is measured\n\n");
  add("The claim: at the same width, several attention heads capture several relations between "
      "words better than one head does. Each run trains the small encoder of `mha train` from "
      "scratch on the synthetic attachment language ([language.md](language.md)), predicting "
      "masked words, and then scores it on the fixed held-out set (one masked position per "
      "sentence):\n\n");
  add("- **accuracy**: the model's most likely word is the word of the sentence;\n");
  add("- **grammatical**: the most likely word is one the grammar allows at that position, even "
      "if the sentence had another;\n");
  add("- **mass**: the mean probability the model puts on all the words the grammar allows there "
      "(it keeps improving after the most likely word is always allowed);\n");
  add("- **PP-noun** accuracy, grammatical, mass and loss: the same over the nouns after the preposition "
      "only (a third of the set). The words allowed there are the instruments of the verb together "
      "with the attributes of the object, so the masked position must be linked to two other words "
      "at once: this is the case where more heads should help;\n");
  add("- **held-out loss**: mean cross-entropy (nats) at the masked positions.\n\n");
  add("Only the number of heads and the seed differ between runs. At a fixed d_model the attention "
      "weights W_Q, W_K, W_V and W_O are d_model × d_model whatever the number of heads (more "
      "heads only cut them into narrower column slices), so the parameter count does not depend "
      "on the number of heads: these equal-d_model runs are also equal-parameter-count runs, as "
      "the parameters column shows.\n\n");

  add("## How it was produced\n\n");
  add("```sh\n" + command_line(s) + "\n```\n\n");
  add(fmt::format("- machine: {}; {} training thread{} per run, kernel {}\n", e.machine, s.threads,
                  s.threads == 1 ? "" : "s", s.kernel));
  add(fmt::format("- date: {}; total training time {} ({})\n", e.date, format_duration(seconds),
                  s.jobs == 1 ? "runs one after another"
                              : fmt::format("the sum over the runs, {} at a time", s.jobs)));
  add(fmt::format(
      "- every run: {} layer{}, d_model {}, d_ff {}, {}-LN; {} steps of {} sentences; "
      "AdamW, peak lr {}, {} warm-up steps then linear decay to 0; seeds 0 to {}\n",
      c.model.num_layers, c.model.num_layers == 1 ? "" : "s", c.model.d_model, c.model.d_ff,
      c.model.norm == NormPlacement::pre ? "pre" : "post", c.steps, c.batch_size,
      c.optimizer.learning_rate, std::min(c.optimizer.warmup_steps, c.steps), s.seeds - 1));
  add(fmt::format("- held-out set: {} examples, {} of them PP nouns\n\n",
                  static_cast<Index>(examples), static_cast<Index>(pp_examples)));

  add("## Results\n\n");
  add(grid_statistics_note(s.seeds) + "\n\n");
  add(grid_results_markdown(summarize_grid(e.runs, heads_metrics()), heads_metrics()));
  add(verdict(e) + "\n\n");
  if (!svg_link.empty())
    add("![Probability on grammatical words, overall and on PP nouns, against the number of heads](" +
        svg_link +
        ")\n\nSmall dots: single seeds; large markers joined by lines: means, with their 95% "
        "confidence intervals as bars.\n\n");
  if (!curves_link.empty())
    add("![Held-out loss during training, one line per number of heads](" + curves_link +
        fmt::format(")\n\nHeld-out loss at {} points during training: the mean over the seeds, "
                    "with its 95% confidence interval shaded.\n\n",
                    s.curve_points));

  add("## Every run\n\n");
  add(grid_runs_markdown(e.runs, heads_metrics()));
  return md;
}

std::string experiment_svg(const HeadsExperiment& e) {
  const HeadsExperimentSettings& s = e.settings;
  const IntervalPlot plot{
      .title = fmt::format("Probability on grammatical words against heads (d_model {}, {} seed{})",
                           s.d_model, s.seeds, s.seeds == 1 ? "" : "s"),
      .y_label = "held-out probability on allowed words",
      .x_label = "heads (log scale; head_dim = d_model / heads; same parameter count)",
      .series = {{.label = "all masked words", .group = "", .metric = "mass"},
                 {.label = "PP nouns (two relations)", .group = "", .metric = "pp_mass"}},
      .lower_bound = 0,
      .upper_bound = 1};
  return grid_interval_svg(e.runs, plot);
}

std::string experiment_curves_svg(const HeadsExperiment& e) {
  const CurvePlot plot{
      .title = fmt::format("Held-out loss during training (d_model {}, mean of {} seed{})",
                           e.settings.d_model, e.settings.seeds, e.settings.seeds == 1 ? "" : "s"),
      .y_label = "held-out loss (nats)",
      .lower_bound = 0,
      .upper_bound = std::numeric_limits<double>::infinity()};
  return grid_curves_svg(e.runs, plot);
}

}  // namespace mha::cli
