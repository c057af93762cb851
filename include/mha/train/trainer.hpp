// Trainer: training of a Transformer on the attachment language — masked-token prediction (an
// encoder) or next-token prediction (a causal language model, mha/train/causal_batches.hpp) —
// with periodic held-out evaluation, checkpoints and resume.
//
// Determinism: step t trains on the batch drawn from mt19937_64(mix_seed(seed, t)) and uses attention
// dropout seeded by mix_seed(seed, t); the parameters start from init_parameters(config, seed). So a
// run is a pure function of (config, seed, thread count), and resuming at step t from a
// checkpoint with the optimizer state gives the same parameters as never stopping.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/train/adamw.hpp"
#include "mha/lang/attachment_grammar.hpp"
#include "mha/train/causal_batches.hpp"
#include "mha/train/checkpoint.hpp"
#include "mha/train/lm_evaluation.hpp"
#include "mha/train/masked_batches.hpp"
#include "mha/train/next_token_grammar.hpp"
#include "mha/models/transformer.hpp"

namespace mha::train {

// masked: an encoder predicts [MASK]ed tokens (masked_batches.hpp).
// causal_lm: a causal model predicts each next token of sentence streams (causal_batches.hpp);
//   the vocabulary gains <eos>, model.causal is set, and rows are model.max_length tokens.
enum class Objective : std::uint8_t { masked, causal_lm };
std::string_view objective_name(Objective objective);  // "masked", "causal-lm"
// Throws mha::Error naming `argument` for another name.
Objective parse_objective(std::string_view name, const std::string& argument = "objective");

struct TrainingConfig {
  Objective objective = Objective::masked;
  // The language trained on; the Trainer's grammar must be AttachmentGrammar(language). In the
  // JSON only when not standard ("language": "two-objects").
  lang::LanguageVariant language = lang::LanguageVariant::standard;
  // masked: vocab_size and max_length are taken from the grammar; causal_lm: vocab_size
  TransformerConfig model;
  AdamWConfig optimizer;    // total_steps is set to `steps`
  Index steps = 1000;
  Index batch_size = 64;
  double mask_probability = 0.15;
  double attention_dropout = 0.0;
  std::uint64_t seed = 0;
  Index eval_every = 100;     // 0: only at the end
  // The held-out set: make_eval_set(grammar, n, eval_seed); causal_lm: n sentences,
  // causal_eval_batch(grammar, n, model.max_length, eval_seed).
  Index eval_examples = 900;
  std::uint64_t eval_seed = 0x5EED0E7A1ull;
};

// The settings as JSON (checkpoint metadata "mha.training") and back; from_json validates.
std::string training_to_json(const TrainingConfig& config);
TrainingConfig training_from_json(const std::string& json);

struct Evaluation {
  Index examples = 0, two_relation_examples = 0;
  double loss = 0;                     // mean cross-entropy at the masked positions
  double accuracy = 0;                 // argmax = the sentence's word
  double valid = 0;                    // argmax is a word the grammar allows there
  double allowed_mass = 0;             // mean probability the model puts on allowed words
  double two_relation_accuracy = 0;    // the same four, over the PP nouns only
  double two_relation_valid = 0;
  double two_relation_allowed_mass = 0;
  double two_relation_loss = 0;
};

// Scores the model on fixed examples (one masked position each).
Evaluation evaluate(const Transformer& model, std::span<const EvalExample> examples,
                    const Context& ctx = {});

struct StepReport {
  Index step = 0, total_steps = 0;
  double loss = 0, grad_norm = 0, learning_rate = 0;
  double tokens_per_second = 0;  // real (non-padding) tokens through forward + backward
  double elapsed_seconds = 0;
  std::optional<Evaluation> evaluation;  // on evaluation steps and the last step (masked)
  std::optional<LmEvaluation> lm_evaluation;  // the same, causal_lm
};

class Trainer {
 public:
  // A fresh model initialised from config.seed.
  Trainer(TrainingConfig config, const lang::AttachmentGrammar& grammar, const Context& ctx);
  // Continues a resumable checkpoint (one with optimizer state) of the same grammar; `steps`
  // (> the checkpoint's step) replaces the planned total when given.
  static Trainer resume(const Checkpoint& checkpoint, const lang::AttachmentGrammar& grammar,
                        const Context& ctx, std::optional<Index> steps = std::nullopt);

  const TrainingConfig& config() const { return config_; }
  const Transformer& model() const { return model_; }
  Index step() const { return optimizer_.steps_done(); }

  // Trains until config().steps, calling `progress` after every step.
  void run(const std::function<void(const StepReport&)>& progress = {});
  // One step; returns its report (without evaluation).
  StepReport train_step();
  Evaluation evaluate_held_out() const;      // masked
  LmEvaluation evaluate_held_out_lm() const;  // causal_lm
  // The words of the model's ids: the grammar's, and <eos> for causal_lm.
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }

  Checkpoint checkpoint(bool with_optimizer) const;

 private:
  Trainer(TrainingConfig config, const lang::AttachmentGrammar& grammar, const Context& ctx,
          TensorStore params);

  TrainingConfig config_;
  const lang::AttachmentGrammar& grammar_;
  std::vector<std::string> vocabulary_;
  Context ctx_;
  Transformer model_;
  AdamW optimizer_;
  std::vector<EvalExample> held_out_;       // masked
  std::optional<CausalBatch> held_out_lm_;  // causal_lm
  std::optional<NextTokenGrammar> next_tokens_;  // causal_lm
  double elapsed_ = 0;
};

}  // namespace mha::train
