// mha experiment heads — does splitting the same width into several heads help with words that
// depend on two others? Trains one model per (heads, seed) with `mha train`'s settings, scores
// each on the held-out set, prints a line per run and writes JSON, a markdown page and two SVGs.
//
//   mha experiment heads [--heads 1,2,4,8] [--seeds 3] [--steps 1500] [--jobs N] [--markdown FILE]
//                        [--svg FILE] [--curves FILE] [--json FILE] [--resume FILE] ...
// Each run is a pure function of (settings, heads, seed, --threads), like `mha train`, so --jobs
// (runs at once) changes nothing but the time. With --json FILE every finished run is also
// appended to FILE.runs.jsonl (or --resume's file): running the same command again trains only
// the runs that are not in it (experiment_grid.hpp).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "commands.hpp"
#include "experiment_grid.hpp"
#include "experiment_report.hpp"
#include "training_options.hpp"

namespace mha::cli {
namespace {

struct ExperimentArgs {
  std::string heads = "1,2,4,8";
  TrainingOptions training;  // `mha train`'s defaults; --d-model, --layers, … override them
  HeadsExperimentSettings settings;
};

// "1,2,4,8" → {1, 2, 4, 8} (sorted). Every value must be a positive divisor of d_model, once.
std::vector<Index> parse_heads(const std::string& text, Index d_model) {
  const std::string expected =
      "a comma-separated list of distinct head counts dividing --d-model " +
      std::to_string(d_model);
  if (text.empty()) throw_invalid("--heads", expected, "''");
  std::vector<Index> heads;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const bool digits =
        !item.empty() && item.size() <= 9 &&
        std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) throw_invalid("--heads", expected, "'" + item + "' in '" + text + "'");
    const Index h = std::stoll(item);
    if (h < 1) throw_invalid("--heads", "head counts >= 1", std::to_string(h));
    if (d_model % h != 0)
      throw_invalid("--heads", "divisors of --d-model " + std::to_string(d_model),
                    std::to_string(h));
    if (std::find(heads.begin(), heads.end(), h) != heads.end())
      throw_invalid("--heads", "each head count once",
                    std::to_string(h) + " twice in '" + text + "'");
    heads.push_back(h);
    if (comma == text.size()) break;
    start = comma + 1;
  }
  std::sort(heads.begin(), heads.end());
  return heads;
}

// The markdown's link to a figure: its path relative to the markdown file's directory ("" when
// either is not written).
std::string relative_link(const std::string& markdown, const std::string& figure) {
  if (figure.empty() || markdown.empty()) return "";
  namespace fs = std::filesystem;
  const fs::path md_dir = fs::absolute(markdown).parent_path();
  return fs::absolute(figure)
      .lexically_normal()
      .lexically_proximate(md_dir.lexically_normal())
      .generic_string();
}

std::string run_line(const GridRunResult& r) {
  return fmt::format(
      "heads {:>2}  seed {}  accuracy {:.3f}  grammatical {:.3f}  PP-noun accuracy {:.3f}  "
      "PP-noun grammatical {:.3f}  PP-noun mass {:.3f}  PP-noun loss {:.3f}  loss {:.3f}  {:.1f}s",
      r.heads, r.seed, r.metric("accuracy"), r.metric("grammatical"), r.metric("pp_accuracy"),
      r.metric("pp_grammatical"), r.metric("pp_mass"), r.metric("pp_loss"), r.metric("loss"),
      r.seconds);
}

// One job per (heads, seed), heads ascending then seeds: each trains `mha train`'s model with
// these heads and seed on its own Context.
std::vector<GridJob> heads_jobs(const ExperimentArgs& a, KernelKind kernel,
                                const lang::AttachmentGrammar& grammar) {
  const HeadsExperimentSettings& s = a.settings;
  std::vector<GridJob> jobs;
  for (const Index h : s.heads)
    for (Index seed = 0; seed < s.seeds; ++seed) {
      TrainingOptions options = a.training;
      options.heads = h;
      options.seed = static_cast<std::uint64_t>(seed);
      const train::TrainingConfig config = training_config(options);
      const Index curve_points = s.curve_points;
      const int threads = s.threads;
      jobs.push_back(GridJob{
          .id = fmt::format("heads={} seed={}", h, seed),
          .group = "",
          .heads = h,
          .seed = seed,
          .run = [config, curve_points, threads, kernel, &grammar](const GridProgress& progress) {
            const Context ctx{.kernel = kernel, .threads = threads};
            TrainedRun t = train_grid_run(config, grammar, ctx, curve_points, progress);
            t.result.metrics = heads_metric_values(t.evaluation);
            return t.result;
          }});
    }
  return jobs;
}

void run_experiment(ExperimentArgs& a) {
  HeadsExperimentSettings& s = a.settings;
  s.heads = parse_heads(a.heads, a.training.d_model);
  s.steps = a.training.steps;
  s.d_model = a.training.d_model;
  s.layers = a.training.layers;
  s.batch = a.training.batch;
  s.lr = a.training.lr;
  s.language = a.training.language;
  const Context ctx{.kernel = resolve_kernel(s.kernel), .threads = s.threads};
  // Everything that can be wrong is found now, not after the grid has run for twenty minutes.
  if (!s.markdown.empty()) check_output_directory(s.markdown, "--markdown");
  if (!s.svg.empty()) check_output_directory(s.svg, "--svg");
  if (!s.curves.empty()) check_output_directory(s.curves, "--curves");
  if (!s.json.empty()) check_output_directory(s.json, "--json");
  const std::string resume_file = s.resume.empty() ? default_resume_file(s.json) : s.resume;
  if (!resume_file.empty()) check_output_directory(resume_file, "--resume");
  const lang::AttachmentGrammar grammar(training_config(a.training).language);  // --language
  HeadsExperiment e{
      .settings = s, .base = {}, .machine = machine_description(), .date = "", .runs = {}};
  // Building each model once checks every setting (the Trainer validates the whole config).
  for (auto h = s.heads.rbegin(); h != s.heads.rend(); ++h) {
    TrainingOptions options = a.training;
    options.heads = *h;
    options.eval_every = 0;
    e.base = train::Trainer(training_config(options), grammar, ctx).config();  // ends at heads[0]
  }

  const Index runs = static_cast<Index>(s.heads.size()) * s.seeds;
  fmt::print(
      "mha experiment heads: heads {} × seeds 0..{} = {} runs; each {} layer{}, d_model {}, "
      "{} steps of {} sentences, lr {}; {} thread{}, kernel {}{}\n",
      heads_list(s.heads), s.seeds - 1, runs, s.layers, s.layers == 1 ? "" : "s", s.d_model,
      s.steps, s.batch, s.lr, s.threads, s.threads == 1 ? "" : "s", kernel_name(ctx.kernel),
      s.jobs > 1 ? fmt::format("; {} runs at once", std::min<Index>(s.jobs, runs)) : "");
  std::fflush(stdout);
  e.runs = run_grid(heads_jobs(a, ctx.kernel, grammar),
                    GridOptions{.jobs = s.jobs,
                                .resume_file = resume_file,
                                .settings = run_settings(s),
                                .progress = true},
                    run_line);
  std::int64_t last = 0;
  for (const GridRunResult& r : e.runs) last = std::max(last, r.finished);
  e.date = utc_time(last);

  const std::vector<GridSummaryRow> rows = summarize_grid(e.runs, heads_metrics());
  std::size_t pp = 0;
  while (heads_metrics()[pp].key != "pp_mass") ++pp;
  for (const GridSummaryRow& row : rows) {
    const train::Summary& m = row.metrics[pp];
    const double p = row.against_one[pp].p_value;
    fmt::print("heads {:>2}: PP-noun mass mean {:.3f}{}, sd {:.3f}, min {:.3f}, max {:.3f}{}\n",
               row.heads, m.mean,
               std::isnan(m.half_width) ? "" : fmt::format(" ± {:.3f} (95% CI)", m.half_width),
               m.sd, m.min, m.max,
               std::isnan(p) ? "" : fmt::format(", Welch p = {:.3f} against 1 head", p));
  }
  fmt::print("{}\n", verdict(e));
  if (!s.json.empty()) {
    write_text_atomically(s.json, experiment_json(e), "--json");
    fmt::print("wrote {}\n", s.json);
  }
  if (!s.svg.empty()) {
    write_text_atomically(s.svg, experiment_svg(e), "--svg");
    fmt::print("wrote {}\n", s.svg);
  }
  if (!s.curves.empty()) {
    write_text_atomically(s.curves, experiment_curves_svg(e), "--curves");
    fmt::print("wrote {}\n", s.curves);
  }
  if (!s.markdown.empty()) {
    write_text_atomically(s.markdown,
                          experiment_markdown(e, relative_link(s.markdown, s.svg),
                                              relative_link(s.markdown, s.curves)),
                          "--markdown");
    fmt::print("wrote {}\n", s.markdown);
  }
}

}  // namespace

void register_experiment(CLI::App& app) {
  CLI::App* experiment = app.add_subcommand(
      "experiment", "Reproducible experiments on the synthetic attachment language");
  experiment->require_subcommand(1);

  auto a = std::make_shared<ExperimentArgs>();
  // One layer, so both relations of a PP noun must be gathered by a single attention step (with
  // two layers, one head per layer could fetch one relation each), and a narrow model, so the
  // width a head gets matters: docs/experiments.md.
  a->training.steps = 1000;
  a->training.d_model = 32;
  a->training.layers = 1;
  CLI::App* heads = experiment->add_subcommand(
      "heads", "One head against several: train a grid of (heads, seed) models and compare them");
  heads->add_option("--heads", a->heads, "comma-separated head counts, each dividing --d-model")
      ->capture_default_str();
  heads->add_option("--seeds", a->settings.seeds, "seeds per head count (0 … N−1)")
      ->check(positive_count())
      ->capture_default_str();
  add_shared_training_options(*heads, a->training);
  heads
      ->add_option("--threads", a->settings.threads,
                   "worker threads (each run is deterministic per seed and thread count)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_kernel_option(*heads, a->settings.kernel);
  heads->add_option("--markdown", a->settings.markdown,
                    "write the results page (e.g. docs/experiments_attachment.md)");
  heads->add_option("--svg", a->settings.svg, "write the figure (SVG)");
  heads->add_option("--curves", a->settings.curves, "write the learning curves (SVG)");
  heads->add_option("--json", a->settings.json,
                    "write every number (JSON); the runs are also saved one by one to the resume "
                    "file, FILE with .json replaced by .runs.jsonl");
  heads
      ->add_option("--jobs", a->settings.jobs,
                   "runs at once, each with --threads threads (the numbers do not depend on it)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  heads->add_option("--resume", a->settings.resume,
                    "the resume file (JSON Lines, one finished run per line): runs already in it "
                    "are not trained again (default: from --json)");
  heads
      ->add_option("--curve-points", a->settings.curve_points,
                   "held-out evaluations during each run, for the learning curves (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  heads->callback([a] { run_experiment(*a); });
  register_experiment_relations(*experiment);
}

}  // namespace mha::cli
