// mha train — trains a small transformer from scratch on the synthetic attachment language
// (docs/language.md) and saves it as a safetensors checkpoint: an encoder by masked-token
// prediction (the default), or a causal language model by next-token prediction
// (--objective causal-lm, for `mha generate`).
//
//   mha train [--heads 4] [--d-model 64] [--layers 2] [--steps 2000] [--seed 0] [--out FILE]
//             [--objective masked|causal-lm] [--max-length N] [--language attachment|two-objects]
//             [--resume FILE] [--checkpoint-every N] [--model-only] ...
// Progress: a bar (step, loss, tokens/s, ETA) redrawn in place on a terminal, one line per
// evaluation otherwise; an evaluation line every --eval-every steps and at the end.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "cli_options.hpp"
#include "commands.hpp"
#include "mha/train/trainer.hpp"
#include "training_options.hpp"

namespace mha::cli {
namespace {

struct TrainArgs {
  TrainingOptions training;  // model and optimizer: shared with `mha experiment heads`
  std::string out = "mha-model.safetensors", resume;
  Index checkpoint_every = 0;
  int threads = 1;  // the models are small: a second thread costs more in synchronisation than it saves
  std::string kernel;
  bool model_only = false, quiet = false;
};

std::string duration(double seconds) {
  const auto s = static_cast<long>(std::lround(seconds));
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

std::string eval_line(const train::StepReport& r) {
  const train::Evaluation& e = *r.evaluation;
  return fmt::format(
      "eval @ step {}: loss {:.3f}  accuracy {:.3f}  grammatical {:.3f} (mass {:.3f})  |  PP "
      "nouns (two relations, n={}): loss {:.3f}  accuracy {:.3f}  grammatical {:.3f} (mass {:.3f})",
      r.step, e.loss, e.accuracy, e.valid, e.allowed_mass, e.two_relation_examples,
      e.two_relation_loss, e.two_relation_accuracy, e.two_relation_valid,
      e.two_relation_allowed_mass);
}

std::string lm_eval_line(const train::StepReport& r) {
  const train::LmEvaluation& e = *r.lm_evaluation;
  return fmt::format(
      "eval @ step {}: next-token loss {:.3f}  perplexity {:.3f}  accuracy {:.3f}  grammatical "
      "{:.3f} (mass {:.3f})  over {} tokens",
      r.step, e.loss, e.perplexity, e.accuracy, e.grammatical, e.allowed_mass, e.tokens);
}

class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {}

  void update(const train::StepReport& r) {
    smoothed_tps_ = smoothed_tps_ == 0 ? r.tokens_per_second : 0.9 * smoothed_tps_ + 0.1 * r.tokens_per_second;
    if (r.evaluation || r.lm_evaluation) {
      if (tty_ && !quiet_) std::fputs("\r\033[K", stderr);
      fmt::print("{}\n", r.evaluation ? eval_line(r) : lm_eval_line(r));
      std::fflush(stdout);
    }
    if (quiet_ || !tty_) return;
    const double per_step = r.elapsed_seconds / static_cast<double>(r.step - first_step_ + 1);
    const double eta = per_step * static_cast<double>(r.total_steps - r.step);
    constexpr int width = 24;
    const auto filled = static_cast<int>(width * r.step / std::max<Index>(r.total_steps, 1));
    fmt::print(stderr, "\r\033[K[{}{}] step {}/{}  loss {:.3f}  {:.0f} tok/s  ETA {}",
               std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(width - filled), '.'), r.step, r.total_steps,
               r.loss, smoothed_tps_, duration(eta));
    if (r.step == r.total_steps) std::fputs("\n", stderr);
  }
  void start_at(Index step) { first_step_ = step + 1; }

 private:
  bool quiet_, tty_;
  double smoothed_tps_ = 0;
  Index first_step_ = 1;
};

void run_train(const TrainArgs& a) {
  const Context ctx{.kernel = resolve_kernel(a.kernel), .threads = a.threads};
  std::optional<train::Checkpoint> resumed;
  if (!a.resume.empty()) resumed = train::load_checkpoint(a.resume);
  // A resumed run keeps its checkpoint's language; a fresh one takes --language.
  const lang::AttachmentGrammar grammar(resumed ? train::training_from_json(resumed->training_json).language
                                                : training_config(a.training).language);
  train::Trainer trainer = resumed ? train::Trainer::resume(*resumed, grammar, ctx, a.training.steps)
                                   : train::Trainer(training_config(a.training), grammar, ctx);
  const train::TrainingConfig& c = trainer.config();
  fmt::print("mha train: {} layers, d_model {}, {} heads of {}, d_ff {}, {}-LN, {} parameters{}\n",
             c.model.num_layers, c.model.d_model, c.model.num_heads, c.model.d_model / c.model.num_heads,
             c.model.d_ff, c.model.norm == NormPlacement::pre ? "pre" : "post",
             parameter_count(c.model),
             c.objective == train::Objective::causal_lm
                 ? fmt::format(", causal language model (rows of {} tokens)", c.model.max_length)
                 : "");
  fmt::print("           {} steps of {} {}, lr {} (warm-up {}), seed {}, {} threads, kernel {}{}\n",
             c.steps, c.batch_size, c.objective == train::Objective::causal_lm ? "rows" : "sentences",
             c.optimizer.learning_rate, c.optimizer.warmup_steps, c.seed,
             ctx.threads, kernel_name(ctx.kernel),
             a.resume.empty() ? "" : fmt::format(", resumed at step {}", trainer.step()));
  if (c.language != lang::LanguageVariant::standard)
    fmt::print("           language {} (docs/language.md)\n", lang::name(c.language));
  std::fflush(stdout);
  ProgressBar bar(a.quiet);
  bar.start_at(trainer.step());
  trainer.run([&](const train::StepReport& r) {
    bar.update(r);
    if (a.checkpoint_every > 0 && r.step % a.checkpoint_every == 0 && r.step < r.total_steps)
      train::save_checkpoint(a.out, trainer.checkpoint(true));
  });
  train::save_checkpoint(a.out, trainer.checkpoint(!a.model_only));
  fmt::print("saved {} ({}, step {})\n", a.out, a.model_only ? "model only" : "resumable",
             trainer.step());
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a small transformer encoder (or, --objective causal-lm, a language model) on the "
               "synthetic attachment language");
  add_full_training_options(*cmd, a->training);
  cmd->get_option("--steps")->description("optimizer steps (with --resume: the new total)");
  cmd->add_option("--threads", a->threads, "worker threads (the run is deterministic per seed and thread count)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--out", a->out, "checkpoint to write (safetensors)")->capture_default_str();
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "also save a resumable checkpoint every N steps")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--resume", a->resume, "continue a resumable checkpoint (model settings come from it)");
  cmd->add_flag("--model-only", a->model_only, "save only the model (no optimizer state: smaller, not resumable)");
  cmd->add_flag("--quiet", a->quiet, "no progress bar (evaluation lines only)");
  add_kernel_option(*cmd, a->kernel);
  cmd->callback([a, cmd] {
    if (a->training.objective == "causal-lm" && cmd->count("--batch") == 0) a->training.batch = kCausalBatch;
    run_train(*a);
  });
}

}  // namespace mha::cli
