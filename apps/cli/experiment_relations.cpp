// mha experiment relations — one head against several as the number of relations k that one
// attention layer must gather at once grows (the k-relation task, mha/train/relation_task.hpp).
// Trains one model per (k, heads, seed), N at once, resumable; writes a markdown page with
// 95% t-intervals and Welch p-values against one head, an interval plot, learning curves and JSON.
//
//   mha experiment relations [--relations 1,2,3,4] [--heads 1,2,4,8] [--seeds 10]
//       [--d-model 32 | --head-dim 8] [--d-ff N (0: attention only)] [--jobs 2] [--json FILE] …
// Equal width (default): every heads value splits the same d_model, so the parameter count is
// the same. --head-dim D: d_model = heads·D instead (equal head width, more parameters per head).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "commands.hpp"
#include "experiment_grid.hpp"
#include "experiment_report.hpp"
#include "training_options.hpp"
#include "mha/train/relation_training.hpp"

namespace mha::cli {
namespace {

struct RelationsArgs {
  std::string relations = "1,2,3,4", heads = "1,2,4,8";
  Index seeds = 10, steps = 1000, d_model = 32, head_dim = 0, d_ff = -1, values = 4, length = 20;
  Index batch = 32, warmup = 100;
  double lr = 3e-3;
  int threads = 1, jobs = 1;
  std::string kernel, norm = "pre", markdown, svg, curves, json, resume;
};

// A comma-separated list of distinct integers in [low, high], sorted.
std::vector<Index> parse_axis(const std::string& text, const std::string& option, Index low,
                              Index high) {
  const std::string expected = "distinct integers in [" + std::to_string(low) + ", " +
                               std::to_string(high) + "], comma-separated";
  std::vector<Index> values = parse_index_list(text);
  if (values.empty()) throw_invalid(option, expected, "'" + text + "'");
  for (const Index v : values)
    if (v < low || v > high) throw_invalid(option, expected, "'" + text + "'");
  std::sort(values.begin(), values.end());
  if (std::adjacent_find(values.begin(), values.end()) != values.end())
    throw_invalid(option, expected, "'" + text + "' (a value twice)");
  return values;
}

Index width_of(const RelationsArgs& a, Index heads) {
  return a.head_dim > 0 ? heads * a.head_dim : a.d_model;
}

train::RelationTrainingConfig config_of(const RelationsArgs& a, Index k, Index heads, Index seed) {
  train::RelationTrainingConfig c;
  c.task = {.relations = k, .values = a.values, .length = a.length};
  c.model.d_model = width_of(a, heads);
  c.model.num_heads = heads;
  c.model.d_ff = a.d_ff < 0 ? 4 * c.model.d_model : a.d_ff;
  c.model.norm = a.norm == "post" ? NormPlacement::post : NormPlacement::pre;
  c.optimizer.learning_rate = a.lr;
  c.optimizer.warmup_steps = a.warmup;
  c.steps = a.steps;
  c.batch_size = a.batch;
  c.seed = static_cast<std::uint64_t>(seed);
  c.eval_every = std::max<Index>(1, a.steps / 20);
  return train::completed(c);
}

const std::vector<GridMetric>& relation_metrics() {
  static const std::vector<GridMetric> metrics = {
      {.key = "relation_accuracy", .label = "relation accuracy", .tested = true, .decimals = 3},
      {.key = "tuple_accuracy", .label = "tuple accuracy", .tested = true, .decimals = 3},
      {.key = "relation_loss", .label = "relation loss", .tested = true, .decimals = 3},
      {.key = "loss", .label = "held-out loss", .tested = false, .decimals = 3},
  };
  return metrics;
}

GridRunResult run_one(const train::RelationTrainingConfig& c, const std::string& id,
                      const std::string& group, const Context& ctx, const GridProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  const train::RelationRun run = train::train_relation_model(c, ctx, progress);
  GridRunResult r;
  r.id = id;
  r.group = group;
  r.heads = c.model.num_heads;
  r.head_dim = c.model.d_model / c.model.num_heads;
  r.seed = static_cast<Index>(c.seed);
  r.parameters = run.parameters;
  const train::RelationEvaluation& e = run.evaluation;
  r.metrics = {{"relation_accuracy", e.mean_relation_accuracy},
               {"tuple_accuracy", e.tuple_accuracy},
               {"relation_loss", e.mean_relation_loss},
               {"loss", e.loss}};
  for (std::size_t i = 0; i < e.relation_accuracy.size(); ++i)
    r.metrics.emplace_back(fmt::format("relation_{}_accuracy", i + 1), e.relation_accuracy[i]);
  for (const train::RelationCurvePoint& p : run.curve) r.curve.push_back({p.step, p.loss});
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// The command line of these settings, axes and output files included when `full`.
std::string command_of(const RelationsArgs& a, const std::string& kernel, bool full) {
  std::string s = "mha experiment relations";
  if (full) s += fmt::format(" --relations {} --heads {} --seeds {}", a.relations, a.heads, a.seeds);
  s += fmt::format(" --steps {}", a.steps);
  s += a.head_dim > 0 ? fmt::format(" --head-dim {}", a.head_dim) : fmt::format(" --d-model {}", a.d_model);
  if (a.d_ff >= 0) s += fmt::format(" --d-ff {}", a.d_ff);
  s += fmt::format(" --values {} --length {} --batch {} --lr {} --warmup {} --norm {} --threads {} --kernel {}",
                   a.values, a.length, a.batch, a.lr, a.warmup, a.norm, a.threads, kernel);
  if (full) {
    s += fmt::format(" --jobs {}", a.jobs);
    if (!a.markdown.empty()) s += " --markdown " + a.markdown;
    if (!a.svg.empty()) s += " --svg " + a.svg;
    if (!a.curves.empty()) s += " --curves " + a.curves;
    if (!a.json.empty()) s += " --json " + a.json;
  }
  return s;
}

// path relative to the markdown file's directory, for links.
std::string link_from(const std::string& markdown, const std::string& path) {
  namespace fs = std::filesystem;
  return fs::absolute(path).lexically_normal()
      .lexically_proximate(fs::absolute(markdown).parent_path().lexically_normal())
      .generic_string();
}

std::int64_t last_finished(const std::vector<GridRunResult>& runs) {
  std::int64_t last = 0;
  for (const GridRunResult& r : runs) last = std::max(last, r.finished);
  return last;
}

std::string page_of(const RelationsArgs& a, const std::vector<Index>& ks,
                    const std::vector<GridRunResult>& runs, const std::string& kernel,
                    double total_seconds) {
  const std::vector<GridSummaryRow> rows = summarize_grid(runs, relation_metrics());
  const train::RelationTrainingConfig c = config_of(a, ks.front(), 1, 0);
  std::string md = "# Experiment: k relations at once, one head or several\n\n";
  md += fmt::format(
      "Generated by `mha experiment relations` on {}. Rerun the command below to refresh this page "
      "rather than editing it; the hypotheses and the reading are in [experiments.md](experiments.md).\n\n",
      utc_time(last_finished(runs)));
  md += "## The task\n\n";
  md += fmt::format(
      "Sequences of {} tokens, each uniform over {} values. At every position i ≥ {} the model "
      "predicts the ordered tuple (x[i−1], x[i−4], x[i−7], x[i−10]) cut to its first k entries: "
      "k relations (\"the token d back\"), every other position a distractor of the same kind. "
      "The answer is one class among {}^k. **Relation accuracy**: per relation, the model's "
      "marginal argmax equals the token, averaged over the k relations (chance 1/{}); **tuple "
      "accuracy**: the whole tuple right; **relation loss**: mean −ln of the marginal probability "
      "of each relation's token; held-out loss: the tuple's cross-entropy. Held-out set: {} "
      "sequences, {} predictions, the same for every run.\n\n",
      a.length, a.values, train::first_target_position(), a.values, a.values, c.eval_sequences,
      c.eval_sequences * (a.length - train::first_target_position()));
  md += "The design check, with models that are *given* the answer positions "
        "(mha/train/relation_task.hpp): the ceiling of a reader of the k answers' equal-weight mix "
        "(what one head weighing them equally passes on: which tokens, not which relation each "
        "came from), exact; and a softmax regression trained on the answers with their roles kept "
        "(what h ≥ k heads can pass on) and on their equal-weight mix:\n\n"
        "| k | equal-weight ceiling: relation accuracy | tuple accuracy | regression, roles kept: "
        "relation accuracy | regression, equal mix: relation accuracy |\n"
        "| ---: | ---: | ---: | ---: | ---: |\n";
  for (const Index k : ks) {
    const train::RelationTask task{.relations = k, .values = a.values, .length = a.length};
    const train::RelationCeiling ceiling = train::equal_weight_ceiling(task);
    const train::OracleResult kept = train::oracle_readout(task, train::OracleFeatures::roles_kept);
    const train::OracleResult mixed = train::oracle_readout(task, train::OracleFeatures::equal_mix);
    md += fmt::format("| {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", k, ceiling.relation_accuracy,
                      ceiling.tuple_accuracy, kept.relation_accuracy, mixed.relation_accuracy);
  }
  md += "\n## How it was produced\n\n```sh\n" + command_of(a, kernel, true) + "\n```\n\n";
  md += fmt::format("- machine: {}; {} training thread{} per run, {} run{} at once, kernel {}\n",
                    machine_description(), a.threads, a.threads == 1 ? "" : "s", a.jobs,
                    a.jobs == 1 ? "" : "s", kernel);
  // From the runs' own clocks, so a resumed grid reports when its runs ran, not the rerun.
  std::int64_t first = last_finished(runs);
  for (const GridRunResult& r : runs)
    first = std::min(first, r.finished - static_cast<std::int64_t>(std::llround(r.seconds)));
  md += fmt::format("- {} runs; {} of training summed over the runs; they ran between {} and {}\n",
                    runs.size(), format_duration(total_seconds), utc_time(first),
                    utc_time(last_finished(runs)));
  md += fmt::format(
      "- every run: 1 layer, {}, {}, {}-LN; {} steps of {} sequences; AdamW, peak lr {}, {} warm-up "
      "steps then linear decay to 0; seeds 0 to {}\n\n",
      a.head_dim > 0 ? fmt::format("head_dim {} (d_model = heads × {})", a.head_dim, a.head_dim)
                     : fmt::format("d_model {}", a.d_model),
      a.d_ff == 0 ? std::string("attention only (no feed-forward block)")
                  : a.d_ff < 0 ? std::string("d_ff 4·d_model") : fmt::format("d_ff {}", a.d_ff),
      a.norm, a.steps, a.batch, a.lr, a.warmup, a.seeds - 1);
  md += "## Results\n\n" + grid_statistics_note(a.seeds) + "\n\n";
  md += grid_results_markdown(rows, relation_metrics());
  if (!a.svg.empty() && !a.markdown.empty())
    md += "\n![Relation accuracy against heads, one line per k](" + link_from(a.markdown, a.svg) + ")\n";
  if (!a.curves.empty() && !a.markdown.empty())
    md += "\n![Held-out loss against step](" + link_from(a.markdown, a.curves) + ")\n";
  md += "\n## Every run\n\n" + grid_runs_markdown(runs, relation_metrics());
  return md;
}

void run_relations(RelationsArgs& a) {
  const std::vector<Index> ks = parse_axis(a.relations, "--relations", 1, 4);
  const std::vector<Index> heads = parse_axis(a.heads, "--heads", 1, 64);
  const KernelKind kind = resolve_kernel(a.kernel);
  const std::string kernel(kernel_name(kind));
  if (a.norm != "pre" && a.norm != "post") throw_invalid("--norm", "pre or post", "'" + a.norm + "'");
  for (const Index h : heads)
    if (width_of(a, h) % h != 0)
      throw_invalid("--heads", "divisors of --d-model " + std::to_string(a.d_model), std::to_string(h));
  for (const Index k : ks)  // every setting is checked before the grid starts
    for (const Index h : heads) (void)config_of(a, k, h, 0);
  for (const std::string* out : {&a.markdown, &a.svg, &a.curves, &a.json})
    if (!out->empty()) check_output_directory(*out, "--output");

  std::vector<GridJob> jobs;
  for (const Index k : ks)
    for (const Index h : heads)
      for (Index seed = 0; seed < a.seeds; ++seed) {
        const std::string group = fmt::format("k={}", k);
        const std::string id = fmt::format("{} heads={} seed={}", group, h, seed);
        const train::RelationTrainingConfig c = config_of(a, k, h, seed);
        const int threads = a.threads;
        jobs.push_back({.id = id, .group = group, .heads = h, .seed = seed,
                        .run = [c, id, group, kind, threads](const GridProgress& progress) {
                          return run_one(c, id, group, Context{.kernel = kind, .threads = threads}, progress);
                        }});
      }
  fmt::print("mha experiment relations: k {} × heads {} × seeds 0..{} = {} runs, {} at once\n",
             a.relations, a.heads, a.seeds - 1, jobs.size(), a.jobs);
  std::fflush(stdout);
  const std::string resume = !a.resume.empty() ? a.resume : default_resume_file(a.json);
  const std::vector<GridRunResult> runs = run_grid(
      jobs, {.jobs = a.jobs, .resume_file = resume, .settings = command_of(a, kernel, false), .progress = true},
      [](const GridRunResult& r) {
        return fmt::format("{:<22} relation accuracy {:.3f}  tuple accuracy {:.3f}  relation loss {:.3f}  {:.1f}s",
                           r.id, r.metric("relation_accuracy"), r.metric("tuple_accuracy"),
                           r.metric("relation_loss"), r.seconds);
      });
  double total = 0;
  for (const GridRunResult& r : runs) total += r.seconds;

  const std::vector<GridSummaryRow> rows = summarize_grid(runs, relation_metrics());
  for (const GridSummaryRow& row : rows) {
    const train::Summary& s = row.metrics.front();
    const train::WelchTest& w = row.against_one.front();
    fmt::print("{} heads {:>2}: relation accuracy {:.3f} ± {:.3f} (95% CI){}\n", row.group, row.heads,
               s.mean, s.half_width,
               std::isnan(w.p_value) ? std::string() : fmt::format(", vs 1 head {:+.3f}, p {:.2g}", w.difference, w.p_value));
  }
  if (!a.json.empty()) {
    nlohmann::ordered_json j;
    j["command"] = command_of(a, kernel, true);
    j["machine"] = machine_description();
    j["rows"] = grid_summary_json(rows, relation_metrics());
    j["runs"] = grid_runs_json(runs);
    write_text_atomically(a.json, j.dump(1) + "\n", "--json");
    fmt::print("wrote {}\n", a.json);
  }
  if (!a.svg.empty()) {
    write_text_atomically(
        a.svg,
        grid_interval_svg(runs, {.title = "Relation accuracy against heads (95% t-intervals)",
                                 .y_label = "relation accuracy",
                                 .series = series_per_group(runs, "relation_accuracy"),
                                 .lower_bound = 0.0,
                                 .upper_bound = 1.0}),
        "--svg");
    fmt::print("wrote {}\n", a.svg);
  }
  if (!a.curves.empty()) {
    write_text_atomically(a.curves, grid_curves_svg(runs, {.title = "Held-out loss against step (mean, 95% band)"}),
                          "--curves");
    fmt::print("wrote {}\n", a.curves);
  }
  if (!a.markdown.empty()) {
    write_text_atomically(a.markdown, page_of(a, ks, runs, kernel, total), "--markdown");
    fmt::print("wrote {}\n", a.markdown);
  }
}

}  // namespace

void register_experiment_relations(CLI::App& experiment) {
  auto a = std::make_shared<RelationsArgs>();
  CLI::App* cmd = experiment.add_subcommand(
      "relations", "One head against several as the number of relations k to gather grows");
  cmd->add_option("--relations", a->relations, "comma-separated k values, each in [1, 4]")->capture_default_str();
  cmd->add_option("--heads", a->heads, "comma-separated head counts")->capture_default_str();
  cmd->add_option("--seeds", a->seeds, "seeds per setting (0 … N−1)")->check(positive_count())->capture_default_str();
  cmd->add_option("--steps", a->steps, "optimizer steps per run")->check(positive_count())->capture_default_str();
  cmd->add_option("--d-model", a->d_model, "model width, the same for every heads value")->check(positive_count())->capture_default_str();
  cmd->add_option("--head-dim", a->head_dim, "equal head width instead: d_model = heads × this")->check(CLI::Range(1, 4096));
  cmd->add_option("--d-ff", a->d_ff, "feed-forward width (default 4·d_model; 0: attention only)")->check(CLI::Range(0, 65536));
  cmd->add_option("--values", a->values, "token values m (answers: m^k classes)")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--length", a->length, "sequence length (the first target is at position 10)")->check(CLI::Range(11, 512))->capture_default_str();
  cmd->add_option("--batch", a->batch, "sequences per step")->check(positive_count())->capture_default_str();
  cmd->add_option("--lr", a->lr, "peak learning rate (AdamW)")->check(CLI::Range(1e-6, 1.0))->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "linear warm-up steps")->check(CLI::Range(0, 1 << 30))->capture_default_str();
  cmd->add_option("--norm", a->norm, "pre or post (LayerNorm placement)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "worker threads per run")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--jobs", a->jobs, "runs at once")->check(CLI::Range(1, 256))->capture_default_str();
  add_kernel_option(*cmd, a->kernel);
  cmd->add_option("--markdown", a->markdown, "write the results page");
  cmd->add_option("--svg", a->svg, "write the interval plot (SVG)");
  cmd->add_option("--curves", a->curves, "write the learning curves (SVG)");
  cmd->add_option("--json", a->json, "write every number (JSON); its FILE.runs.jsonl resumes the grid");
  cmd->add_option("--resume", a->resume, "the resume file (default: from --json)");
  cmd->callback([a] { run_relations(*a); });
}

}  // namespace mha::cli
