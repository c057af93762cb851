// mha experiment heads — does splitting the same width into several heads help with words that
// depend on two others? Trains one model per (heads, seed) with `mha train`'s settings, scores
// each on the held-out set, prints a line per run and writes JSON, a markdown page and an SVG.
//
//   mha experiment heads [--heads 1,2,4,8] [--seeds 3] [--steps 1500] [--markdown FILE]
//                        [--svg FILE] [--json FILE] ...
// Runs go one after another in ascending heads then seed order; each is a pure function of
// (settings, heads, seed, --threads), like `mha train`.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "commands.hpp"
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

// The markdown's link to the figure: the SVG's path relative to the markdown file's directory.
std::string svg_link(const HeadsExperimentSettings& s) {
  if (s.svg.empty() || s.markdown.empty()) return "";
  namespace fs = std::filesystem;
  const fs::path md_dir = fs::absolute(s.markdown).parent_path();
  return fs::absolute(s.svg)
      .lexically_normal()
      .lexically_proximate(md_dir.lexically_normal())
      .generic_string();
}

std::string run_line(const HeadsRun& r) {
  const train::Evaluation& e = r.evaluation;
  return fmt::format(
      "heads {:>2}  seed {}  accuracy {:.3f}  grammatical {:.3f}  PP-noun accuracy {:.3f}  "
      "PP-noun grammatical {:.3f}  PP-noun mass {:.3f}  PP-noun loss {:.3f}  loss {:.3f}  {:.1f}s",
      r.heads, r.seed, e.accuracy, e.valid, e.two_relation_accuracy, e.two_relation_valid,
      e.two_relation_allowed_mass, e.two_relation_loss, e.loss, r.seconds);
}

HeadsRun train_one(const ExperimentArgs& a, Index heads, Index seed, const Context& ctx,
                   const lang::AttachmentGrammar& grammar, bool show_progress) {
  TrainingOptions options = a.training;
  options.heads = heads;
  options.seed = static_cast<std::uint64_t>(seed);
  options.eval_every = 0;  // only the final evaluation is reported
  const auto start = std::chrono::steady_clock::now();
  train::Trainer trainer(training_config(options), grammar, ctx);
  HeadsRun run;
  run.heads = heads;
  run.seed = seed;
  run.parameters = parameter_count(trainer.config().model);
  trainer.run([&](const train::StepReport& r) {
    if (r.evaluation) run.evaluation = *r.evaluation;
    if (show_progress && (r.step % 10 == 0 || r.step == r.total_steps))
      fmt::print(stderr, "\r\033[K  heads {} seed {}: step {}/{}  loss {:.3f}", heads, seed, r.step,
                 r.total_steps, r.loss);
  });
  if (show_progress) std::fputs("\r\033[K", stderr);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

void run_experiment(ExperimentArgs& a) {
  HeadsExperimentSettings& s = a.settings;
  s.heads = parse_heads(a.heads, a.training.d_model);
  s.steps = a.training.steps;
  s.d_model = a.training.d_model;
  s.layers = a.training.layers;
  s.batch = a.training.batch;
  s.lr = a.training.lr;
  const Context ctx{.kernel = resolve_kernel(s.kernel), .threads = s.threads};
  // Everything that can be wrong is found now, not after the grid has run for twenty minutes.
  if (!s.markdown.empty()) check_output_directory(s.markdown, "--markdown");
  if (!s.svg.empty()) check_output_directory(s.svg, "--svg");
  if (!s.json.empty()) check_output_directory(s.json, "--json");
  const lang::AttachmentGrammar grammar;
  HeadsExperiment e{
      .settings = s, .base = {}, .machine = machine_description(), .date = "", .runs = {}};
  // Building each model once checks every setting (the Trainer validates the whole config).
  for (auto h = s.heads.rbegin(); h != s.heads.rend(); ++h) {
    TrainingOptions options = a.training;
    options.heads = *h;
    options.eval_every = 0;
    e.base = train::Trainer(training_config(options), grammar, ctx).config();  // ends at heads[0]
  }

  fmt::print(
      "mha experiment heads: heads {} × seeds 0..{} = {} runs; each {} layer{}, d_model {}, "
      "{} steps of {} sentences, lr {}; {} thread{}, kernel {}\n",
      heads_list(s.heads), s.seeds - 1, static_cast<Index>(s.heads.size()) * s.seeds, s.layers,
      s.layers == 1 ? "" : "s", s.d_model, s.steps, s.batch, s.lr, s.threads,
      s.threads == 1 ? "" : "s", kernel_name(ctx.kernel));
  std::fflush(stdout);
  const bool show_progress = isatty(fileno(stderr)) != 0;
  for (const Index h : s.heads)
    for (Index seed = 0; seed < s.seeds; ++seed) {
      e.runs.push_back(train_one(a, h, seed, ctx, grammar, show_progress));
      fmt::print("{}\n", run_line(e.runs.back()));
      std::fflush(stdout);
    }
  e.date = utc_now();

  for (const Index h : s.heads) {
    const Spread pp = spread_of(e, h, Metric::pp_mass);
    fmt::print("heads {:>2}: PP-noun mass mean {:.3f}, sd {:.3f}, min {:.3f}, max {:.3f}\n",
               h, pp.mean, pp.sd, pp.min, pp.max);
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
  if (!s.markdown.empty()) {
    write_text_atomically(s.markdown, experiment_markdown(e, svg_link(s)), "--markdown");
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
                    "write the results page (docs/experiments.md)");
  heads->add_option("--svg", a->settings.svg, "write the figure (SVG)");
  heads->add_option("--json", a->settings.json, "write every number (JSON)");
  heads->callback([a] { run_experiment(*a); });
}

}  // namespace mha::cli
