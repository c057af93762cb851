#include "training_options.hpp"

#include "mha/layers/activation.hpp"

namespace mha::cli {

CLI::Range positive_count() { return CLI::Range(Index{1}, Index{1} << 40); }

void add_shared_training_options(CLI::App& cmd, TrainingOptions& o) {
  cmd.add_option("--d-model", o.d_model, "model width")
      ->check(positive_count())
      ->capture_default_str();
  cmd.add_option("--layers", o.layers, "encoder layers")
      ->check(positive_count())
      ->capture_default_str();
  cmd.add_option("--steps", o.steps, "optimizer steps")
      ->check(positive_count())
      ->capture_default_str();
  cmd.add_option("--batch", o.batch, "sentences per step")
      ->check(positive_count())
      ->capture_default_str();
  cmd.add_option("--lr", o.lr, "peak learning rate (AdamW)")->capture_default_str();
  cmd.add_option("--language", o.language,
                 "attachment, or two-objects (\"the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN]\": the PP "
                 "noun depends on the nearest object only)")
      ->check(CLI::IsMember({"attachment", "two-objects"}))
      ->capture_default_str();
}

void add_full_training_options(CLI::App& cmd, TrainingOptions& o) {
  cmd.add_option("--heads", o.heads, "attention heads per layer")
      ->check(positive_count())
      ->capture_default_str();
  add_shared_training_options(cmd, o);
  cmd.add_option("--d-ff", o.d_ff,
                 "feed-forward width (default 4·d_model; 0: attention only (no feed-forward))")
      ->check(CLI::Range(Index{0}, Index{1} << 40));
  cmd.add_option("--warmup", o.warmup, "linear warm-up steps")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--weight-decay", o.weight_decay, "AdamW weight decay (matrices only)")
      ->capture_default_str();
  cmd.add_option("--clip", o.clip, "gradient clipping: max global norm (0: none)")
      ->capture_default_str();
  cmd.add_option("--dropout", o.dropout, "attention dropout rate")->capture_default_str();
  cmd.add_option("--mask", o.mask, "probability of masking each token")->capture_default_str();
  cmd.add_option("--norm", o.norm, "pre or post (LayerNorm placement)")->capture_default_str();
  cmd.add_option("--activation", o.activation, "feed-forward activation (gelu, relu, …)")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "seed of the initial weights and of the data")
      ->capture_default_str();
  cmd.add_option("--objective", o.objective,
                 "masked (an encoder predicts [MASK]ed words) or causal-lm (a causal language model "
                 "predicts each next word of sentence streams; --batch defaults to 8 rows)")
      ->check(CLI::IsMember({"masked", "causal-lm"}))
      ->capture_default_str();
  cmd.add_option("--max-length", o.max_length,
                 "longest input in tokens; causal-lm: also the training row (default masked 64, causal-lm 320)")
      ->check(positive_count());
  cmd.add_option("--eval-every", o.eval_every,
                 "held-out evaluation every N steps (0: only at the end)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

train::TrainingConfig training_config(const TrainingOptions& o) {
  if (o.norm != "pre" && o.norm != "post")
    throw_invalid("--norm", "pre or post", "'" + o.norm + "'");
  if (o.d_model % o.heads != 0)
    throw_invalid("--heads", "a divisor of --d-model " + std::to_string(o.d_model),
                  std::to_string(o.heads));
  train::TrainingConfig c;
  c.objective = train::parse_objective(o.objective, "--objective");
  c.language = lang::parse_language_variant(o.language, "--language");
  const bool lm = c.objective == train::Objective::causal_lm;
  if (o.max_length > 0) c.model.max_length = o.max_length;
  else if (lm) c.model.max_length = kCausalMaxLength;
  c.model.d_model = o.d_model;
  c.model.num_heads = o.heads;
  c.model.num_layers = o.layers;
  c.model.d_ff = o.d_ff >= 0 ? o.d_ff : 4 * o.d_model;  // -1: the flag was not given
  c.model.norm = o.norm == "pre" ? NormPlacement::pre : NormPlacement::post;
  c.model.activation = parse_activation(o.activation, "--activation");
  c.optimizer.learning_rate = o.lr;
  c.optimizer.weight_decay = o.weight_decay;
  c.optimizer.clip_norm = o.clip;
  c.optimizer.warmup_steps = o.warmup;
  c.steps = o.steps;
  c.batch_size = o.batch;
  c.mask_probability = o.mask;
  c.attention_dropout = o.dropout;
  c.seed = o.seed;
  c.eval_every = o.eval_every;
  return c;
}

}  // namespace mha::cli
