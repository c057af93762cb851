// JSON and markdown for `mha experiment heads`; the SVG figure is in experiment_svg.cpp.
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

std::vector<double> values_of(const HeadsExperiment& e, Index heads, Metric m) {
  std::vector<double> values;
  for (const HeadsRun& r : e.runs)
    if (r.heads == heads) values.push_back(metric_value(r.evaluation, m));
  return values;
}

nlohmann::ordered_json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}

// "0.912 ± 0.010", or "0.912" when one seed leaves no spread.
std::string mean_pm_sd(const Spread& s) {
  return std::isnan(s.sd) ? fmt::format("{:.3f}", s.mean)
                          : fmt::format("{:.3f} ± {:.3f}", s.mean, s.sd);
}

Index parameters_of(const HeadsExperiment& e, Index heads) {
  for (const HeadsRun& r : e.runs)
    if (r.heads == heads) return r.parameters;
  return 0;
}

std::string total_time(const HeadsExperiment& e) {
  double seconds = 0;
  for (const HeadsRun& r : e.runs) seconds += r.seconds;
  const auto s = static_cast<long>(std::lround(seconds));
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

}  // namespace

namespace {

// One row per Metric, in enum order: its JSON key, its table heading and where it lives.
struct MetricInfo {
  const char* key;
  const char* label;
  double train::Evaluation::*value;
};

constexpr MetricInfo kMetricInfo[] = {
    {"accuracy", "accuracy", &train::Evaluation::accuracy},
    {"grammatical", "grammatical", &train::Evaluation::valid},
    {"mass", "mass on grammatical words", &train::Evaluation::allowed_mass},
    {"pp_accuracy", "PP-noun accuracy", &train::Evaluation::two_relation_accuracy},
    {"pp_grammatical", "PP-noun grammatical", &train::Evaluation::two_relation_valid},
    {"pp_mass", "PP-noun mass", &train::Evaluation::two_relation_allowed_mass},
    {"pp_loss", "PP-noun loss", &train::Evaluation::two_relation_loss},
    {"loss", "held-out loss", &train::Evaluation::loss},
};

const MetricInfo& info(Metric m) { return kMetricInfo[static_cast<std::size_t>(m)]; }

}  // namespace

const char* metric_key(Metric m) { return info(m).key; }

const char* metric_label(Metric m) { return info(m).label; }

double metric_value(const train::Evaluation& e, Metric m) { return e.*info(m).value; }

Spread spread_of(std::span<const double> values) {
  Spread s;
  s.count = static_cast<Index>(values.size());
  if (values.empty()) return {.mean = NAN, .sd = NAN, .min = NAN, .max = NAN, .count = 0};
  double sum = 0;
  for (const double x : values) sum += x;
  s.mean = sum / static_cast<double>(values.size());
  double squares = 0;  // two passes: Σ(x − x̄)² does not cancel the way Σx² − n·x̄² can
  for (const double x : values) squares += (x - s.mean) * (x - s.mean);
  s.sd = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : NAN;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  return s;
}

Spread spread_of(const HeadsExperiment& e, Index heads, Metric m) {
  const std::vector<double> values = values_of(e, heads, m);
  return spread_of(values);
}

std::string heads_list(const std::vector<Index>& heads) {
  std::string text;
  for (const Index h : heads) text += (text.empty() ? "" : ",") + std::to_string(h);
  return text;
}

std::string command_line(const HeadsExperimentSettings& s) {
  std::string cmd = fmt::format(
      "mha experiment heads --heads {} --seeds {} --steps {} --d-model {} --layers {} --batch {} "
      "--lr {} --threads {} --kernel {}",
      heads_list(s.heads), s.seeds, s.steps, s.d_model, s.layers, s.batch, s.lr, s.threads,
      shell_word(s.kernel));
  if (!s.markdown.empty()) cmd += " --markdown " + shell_word(s.markdown);
  if (!s.svg.empty()) cmd += " --svg " + shell_word(s.svg);
  if (!s.json.empty()) cmd += " --json " + shell_word(s.json);
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

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
  return text;
}

std::string verdict(const HeadsExperiment& e) {
  const std::vector<Index>& heads = e.settings.heads;
  if (std::find(heads.begin(), heads.end(), Index{1}) == heads.end())
    return "The grid has no 1-head runs, so there is no single-head baseline to compare with.";
  Index best = 0;
  double best_mean = -1;
  for (const Index h : heads) {
    const double mean = spread_of(e, h, Metric::pp_mass).mean;
    if (h > 1 && mean > best_mean) {
      best = h;
      best_mean = mean;
    }
  }
  if (best == 0) return "The grid has only 1-head runs, so there is nothing to compare them with.";
  const Spread one = spread_of(e, 1, Metric::pp_mass);
  const Spread many = spread_of(e, best, Metric::pp_mass);
  const double points = 100 * (many.mean - one.mean);
  std::string text = fmt::format(
      "On the PP-noun mass (the probability put on the words the grammar allows) the best multi-head setting, {} heads ({}), is {:.1f} "
      "points "
      "{} 1 head ({})",
      best, mean_pm_sd(many), std::abs(points), points >= 0 ? "above" : "below", mean_pm_sd(one));
  if (std::isnan(one.sd) || std::isnan(many.sd))
    return text + "; with a single seed per setting there is no seed spread to compare it with.";
  const double spread = 100 * (one.sd + many.sd);
  return text + fmt::format(
                    "; the difference is {} the seed spread (sum of the two standard deviations: "
                    "{:.1f} points){}.",
                    std::abs(points) > spread ? "larger than" : "within", spread,
                    std::abs(points) > spread ? "" : ", so these runs do not separate the two");
}

std::string experiment_json(const HeadsExperiment& e) {
  using json = nlohmann::ordered_json;
  const HeadsExperimentSettings& s = e.settings;
  json runs = json::array();
  for (const HeadsRun& r : e.runs) {
    json row = {{"heads", r.heads},
                {"head_dim", s.d_model / r.heads},
                {"seed", r.seed},
                {"parameters", r.parameters}};
    for (const Metric m : kMetrics) row[metric_key(m)] = metric_value(r.evaluation, m);
    row["examples"] = r.evaluation.examples;
    row["pp_examples"] = r.evaluation.two_relation_examples;
    row["seconds"] = r.seconds;
    runs.push_back(std::move(row));
  }
  json summary = json::array();
  for (const Index h : s.heads) {
    json row = {{"heads", h},
                {"head_dim", s.d_model / h},
                {"parameters", parameters_of(e, h)},
                {"runs", spread_of(e, h, Metric::loss).count}};
    for (const Metric m : kMetrics) {
      const Spread sp = spread_of(e, h, m);
      row[metric_key(m)] = {{"mean", number_or_null(sp.mean)},
                            {"sd", number_or_null(sp.sd)},
                            {"min", number_or_null(sp.min)},
                            {"max", number_or_null(sp.max)}};
    }
    summary.push_back(std::move(row));
  }
  const json doc = {{"experiment", "heads"},
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
                      {"kernel", s.kernel},
                      {"training", json::parse(train::training_to_json(e.base))}}},
                    {"runs", std::move(runs)},
                    {"summary", std::move(summary)},
                    {"verdict", verdict(e)}};
  return doc.dump(2) + "\n";
}

std::string experiment_markdown(const HeadsExperiment& e, const std::string& svg_link) {
  const HeadsExperimentSettings& s = e.settings;
  const train::TrainingConfig& c = e.base;
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
  add(fmt::format("- machine: {}; {} training thread{}, kernel {}\n", e.machine, s.threads,
                  s.threads == 1 ? "" : "s", s.kernel));
  add(fmt::format("- date: {}; total training time {} (runs one after another)\n", e.date,
                  total_time(e)));
  add(fmt::format(
      "- every run: {} layer{}, d_model {}, d_ff {}, {}-LN; {} steps of {} sentences; "
      "AdamW, peak lr {}, {} warm-up steps then linear decay to 0; seeds 0 to {}\n",
      c.model.num_layers, c.model.num_layers == 1 ? "" : "s", c.model.d_model, c.model.d_ff,
      c.model.norm == NormPlacement::pre ? "pre" : "post", c.steps, c.batch_size,
      c.optimizer.learning_rate, std::min(c.optimizer.warmup_steps, c.steps), s.seeds - 1));
  add(fmt::format("- held-out set: {} examples, {} of them PP nouns\n\n",
                  e.runs.empty() ? 0 : e.runs.front().evaluation.examples,
                  e.runs.empty() ? 0 : e.runs.front().evaluation.two_relation_examples));

  add(fmt::format("## Results\n\nMean ± sample standard deviation over {} seed{}.\n\n", s.seeds,
                  s.seeds == 1 ? " (one seed: no spread)" : "s"));
  add("| heads | head_dim | parameters |");
  for (const Metric m : kMetrics) add(fmt::format(" {} |", metric_label(m)));
  add("\n| ---: | ---: | ---: |");
  for ([[maybe_unused]] const Metric m : kMetrics) add(" ---: |");
  add("\n");
  for (const Index h : s.heads) {
    add(fmt::format("| {} | {} | {} |", h, s.d_model / h, parameters_of(e, h)));
    for (const Metric m : kMetrics) add(" " + mean_pm_sd(spread_of(e, h, m)) + " |");
    add("\n");
  }
  add("\n" + verdict(e) + "\n\n");
  if (!svg_link.empty())
    add("![Probability on grammatical words, overall and on PP nouns, against the number of heads](" + svg_link +
        ")\n\nSmall dots: single seeds; large markers joined by lines: means.\n\n");

  add("## Every run\n\n| heads | seed |");
  for (const Metric m : kMetrics) add(fmt::format(" {} |", metric_label(m)));
  add(" seconds |\n| ---: | ---: |");
  for ([[maybe_unused]] const Metric m : kMetrics) add(" ---: |");
  add(" ---: |\n");
  for (const HeadsRun& r : e.runs) {
    add(fmt::format("| {} | {} |", r.heads, r.seed));
    for (const Metric m : kMetrics) add(fmt::format(" {:.3f} |", metric_value(r.evaluation, m)));
    add(fmt::format(" {:.1f} |\n", r.seconds));
  }
  return md;
}

}  // namespace mha::cli
