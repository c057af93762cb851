// The training loop: batch → loss and gradients → AdamW, with held-out evaluation.
#include "mha/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "core/random_draws.hpp"
#include "mha/train/loss_and_gradients.hpp"

namespace mha::train {
namespace {

TrainingConfig completed(TrainingConfig c, const lang::AttachmentGrammar& grammar) {
  if (c.language != grammar.variant())
    throw_invalid("language", "the grammar's language (" + std::string(lang::name(grammar.variant())) + ")",
                  std::string(lang::name(c.language)));
  if (c.objective == Objective::causal_lm) {
    c.model.vocab_size = end_of_sentence_id(grammar) + 1;
    c.model.causal = true;
    // A row must hold <eos>, the longest sentence and its <eos> (the shift takes one token).
    if (c.model.max_length < grammar.max_length() + 1)
      throw_invalid("max_length", ">= " + std::to_string(grammar.max_length() + 1) +
                                      " for causal-lm (the longest sentence and its <eos>)",
                    std::to_string(c.model.max_length));
  } else {
    if (c.model.causal)
      throw_invalid("model.causal", "false for the masked objective (an encoder)", "true");
    c.model.vocab_size = grammar.vocabulary().size();
    c.model.max_length = std::max(c.model.max_length, grammar.max_length());
  }
  c.optimizer.total_steps = c.steps;
  c.optimizer.warmup_steps = std::min(c.optimizer.warmup_steps, c.steps);
  validate(c.model);
  validate(c.optimizer);
  if (c.steps < 1) throw_invalid("steps", ">= 1", std::to_string(c.steps));
  if (c.batch_size < 1) throw_invalid("batch_size", ">= 1", std::to_string(c.batch_size));
  if (!(c.mask_probability >= 0 && c.mask_probability <= 1))
    throw_invalid("mask_probability", "in [0, 1]", std::to_string(c.mask_probability));
  if (!(c.attention_dropout >= 0 && c.attention_dropout < 1))
    throw_invalid("attention_dropout", "in [0, 1)", std::to_string(c.attention_dropout));
  if (c.eval_every < 0) throw_invalid("eval_every", ">= 0", std::to_string(c.eval_every));
  if (c.eval_examples < 1) throw_invalid("eval_examples", ">= 1", std::to_string(c.eval_examples));
  return c;
}

struct BatchTensors {
  Tensor<std::int64_t> ids, targets, attention_mask;
  Batch batch() const {
    return {.input = {.input_ids = ids.view(), .attention_mask = attention_mask.view()}, .targets = targets.view()};
  }
};

// causal_lm: no attention mask — padding only ends a row, and causal attention never lets a real
// position see a later one.
BatchTensors tensors_of(const CausalBatch& b) {
  BatchTensors t{Tensor<std::int64_t>({b.batch, b.length}), Tensor<std::int64_t>({b.batch, b.length}), {}};
  std::copy(b.inputs.begin(), b.inputs.end(), t.ids.data());
  std::copy(b.targets.begin(), b.targets.end(), t.targets.data());
  return t;
}

BatchTensors tensors_of(const MaskedBatch& b) {
  BatchTensors t{Tensor<std::int64_t>({b.batch, b.length}), Tensor<std::int64_t>({b.batch, b.length}),
                 Tensor<std::int64_t>({b.batch, b.length})};
  std::copy(b.inputs.begin(), b.inputs.end(), t.ids.data());
  std::copy(b.targets.begin(), b.targets.end(), t.targets.data());
  std::transform(b.padding.begin(), b.padding.end(), t.attention_mask.data(),
                 [](std::uint8_t pad) { return pad ? std::int64_t{0} : std::int64_t{1}; });
  return t;
}

}  // namespace

std::string_view objective_name(Objective objective) {
  return objective == Objective::causal_lm ? "causal-lm" : "masked";
}

Objective parse_objective(std::string_view name, const std::string& argument) {
  if (name == "masked") return Objective::masked;
  if (name == "causal-lm") return Objective::causal_lm;
  throw_invalid(argument, "masked or causal-lm", "'" + std::string(name) + "'");
}

std::string training_to_json(const TrainingConfig& c) {
  const AdamWConfig& o = c.optimizer;
  nlohmann::json j = {
      {"model", nlohmann::json::parse(config_to_json(c.model))},
      {"optimizer",
       {{"learning_rate", o.learning_rate}, {"beta1", o.beta1}, {"beta2", o.beta2},
        {"epsilon", o.epsilon}, {"weight_decay", o.weight_decay}, {"warmup_steps", o.warmup_steps},
        {"clip_norm", o.clip_norm}}},
      {"steps", c.steps},
      {"batch_size", c.batch_size},
      {"mask_probability", c.mask_probability},
      {"attention_dropout", c.attention_dropout},
      {"seed", c.seed},
      {"eval_every", c.eval_every},
      {"eval_examples", c.eval_examples},
      {"eval_seed", c.eval_seed}};
  // Only when not the default, so a masked run's checkpoint bytes are what they always were.
  if (c.objective != Objective::masked) j["objective"] = std::string(objective_name(c.objective));
  if (c.language != lang::LanguageVariant::standard) j["language"] = std::string(lang::name(c.language));
  return j.dump();
}

TrainingConfig training_from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto field = [&](const nlohmann::json& obj, const char* key, const char* where) -> const nlohmann::json& {
    if (!obj.is_object() || !obj.contains(key) || !(obj[key].is_number() || obj[key].is_object()))
      throw_invalid(std::string("mha.training ") + where + key, "a number", "missing or not a number");
    return obj[key];
  };
  TrainingConfig c;
  if (j.is_object() && j.contains("objective")) {
    if (!j["objective"].is_string())
      throw_invalid("mha.training objective", "\"masked\" or \"causal-lm\"", j["objective"].dump());
    c.objective = parse_objective(j["objective"].get<std::string>(), "mha.training objective");
  }
  if (j.is_object() && j.contains("language")) {
    if (!j["language"].is_string())
      throw_invalid("mha.training language", "\"attachment\" or \"two-objects\"", j["language"].dump());
    c.language = lang::parse_language_variant(j["language"].get<std::string>(), "mha.training language");
  }
  c.model = config_from_json(field(j, "model", "").dump());
  const nlohmann::json& o = field(j, "optimizer", "");
  c.optimizer.learning_rate = field(o, "learning_rate", "optimizer.").get<double>();
  c.optimizer.beta1 = field(o, "beta1", "optimizer.").get<double>();
  c.optimizer.beta2 = field(o, "beta2", "optimizer.").get<double>();
  c.optimizer.epsilon = field(o, "epsilon", "optimizer.").get<double>();
  c.optimizer.weight_decay = field(o, "weight_decay", "optimizer.").get<double>();
  c.optimizer.warmup_steps = field(o, "warmup_steps", "optimizer.").get<Index>();
  c.optimizer.clip_norm = field(o, "clip_norm", "optimizer.").get<double>();
  c.steps = field(j, "steps", "").get<Index>();
  c.optimizer.total_steps = c.steps;
  c.batch_size = field(j, "batch_size", "").get<Index>();
  c.mask_probability = field(j, "mask_probability", "").get<double>();
  c.attention_dropout = field(j, "attention_dropout", "").get<double>();
  c.seed = field(j, "seed", "").get<std::uint64_t>();
  c.eval_every = field(j, "eval_every", "").get<Index>();
  c.eval_examples = field(j, "eval_examples", "").get<Index>();
  c.eval_seed = field(j, "eval_seed", "").get<std::uint64_t>();
  return c;
}

Evaluation evaluate(const Transformer& model, std::span<const EvalExample> examples,
                    const Context& ctx) {
  Evaluation e;
  if (examples.empty()) return e;
  const BatchTensors t = tensors_of(eval_batch(examples));
  const TransformerOutput out = model.forward(
      t.batch().input, {.output_hidden_states = false, .output_attentions = false, .output_query_key = false}, ctx);
  const Index vocab = model.config().vocab_size, length = t.ids.dim(1);
  double loss = 0, mass = 0, two_loss = 0, two_mass = 0;
  Index correct = 0, valid = 0, two_correct = 0, two_valid = 0;
  for (std::size_t n = 0; n < examples.size(); ++n) {
    const EvalExample& ex = examples[n];
    const float* z = out.logits.data() + (static_cast<Index>(n) * length + ex.position) * vocab;
    const Index best = std::max_element(z, z + vocab) - z;
    double sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(z[v]) - z[best]);
    const double log_sum = z[best] + std::log(sum);
    const double example_loss = log_sum - z[ex.target];
    double allowed = 0;
    for (const std::int64_t w : ex.allowed) allowed += std::exp(static_cast<double>(z[w]) - log_sum);
    loss += example_loss;
    mass += allowed;
    const bool is_correct = best == ex.target;
    const bool is_valid = std::binary_search(ex.allowed.begin(), ex.allowed.end(), best);
    correct += is_correct;
    valid += is_valid;
    if (ex.two_relations) {
      ++e.two_relation_examples;
      two_correct += is_correct;
      two_valid += is_valid;
      two_loss += example_loss;
      two_mass += allowed;
    }
  }
  const auto count = static_cast<double>(examples.size());
  e.examples = static_cast<Index>(examples.size());
  e.loss = loss / count;
  e.accuracy = static_cast<double>(correct) / count;
  e.valid = static_cast<double>(valid) / count;
  e.allowed_mass = mass / count;
  if (e.two_relation_examples > 0) {
    const auto two = static_cast<double>(e.two_relation_examples);
    e.two_relation_accuracy = static_cast<double>(two_correct) / two;
    e.two_relation_valid = static_cast<double>(two_valid) / two;
    e.two_relation_allowed_mass = two_mass / two;
    e.two_relation_loss = two_loss / two;
  }
  return e;
}

Trainer::Trainer(TrainingConfig config, const lang::AttachmentGrammar& grammar, const Context& ctx,
                 TensorStore params)
    : config_(completed(std::move(config), grammar)),
      grammar_(grammar),
      vocabulary_(config_.objective == Objective::causal_lm ? causal_vocabulary(grammar).words()
                                                            : grammar.vocabulary().words()),
      ctx_(ctx),
      model_(config_.model, std::move(params)),
      optimizer_(config_.optimizer, model_.parameters()) {
  if (config_.objective == Objective::causal_lm) {
    held_out_lm_ = causal_eval_batch(grammar, config_.eval_examples, config_.model.max_length, config_.eval_seed);
    next_tokens_.emplace(grammar);
  } else {
    held_out_ = make_eval_set(grammar, config_.eval_examples, config_.eval_seed);
  }
}

Trainer::Trainer(TrainingConfig config, const lang::AttachmentGrammar& grammar, const Context& ctx)
    : Trainer(config, grammar, ctx,
              init_parameters(completed(config, grammar).model, config.seed)) {}

Trainer Trainer::resume(const Checkpoint& checkpoint, const lang::AttachmentGrammar& grammar,
                        const Context& ctx, std::optional<Index> steps) {
  if (!checkpoint.optimizer)
    throw_invalid("checkpoint", "a resumable checkpoint (with optimizer state)",
                  "a model-only checkpoint");
  TrainingConfig config = training_from_json(checkpoint.training_json);
  const bool lm = config.objective == Objective::causal_lm;
  if (checkpoint.vocabulary != (lm ? causal_vocabulary(grammar).words() : grammar.vocabulary().words()))
    throw_invalid("checkpoint", lm ? "the vocabulary of the attachment language and <eos>"
                                   : "the vocabulary of the attachment language",
                  "a different vocabulary (" + std::to_string(checkpoint.vocabulary.size()) + " words)");
  if (steps) {
    if (*steps <= checkpoint.optimizer->steps_done)
      throw_invalid("steps", "more than the checkpoint's " + std::to_string(checkpoint.optimizer->steps_done),
                    std::to_string(*steps));
    config.steps = *steps;
  }
  Trainer trainer(config, grammar, ctx, checkpoint.parameters);
  trainer.optimizer_.restore(checkpoint.optimizer->steps_done, checkpoint.optimizer->first_moments,
                             checkpoint.optimizer->second_moments);
  return trainer;
}

StepReport Trainer::train_step() {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t step_seed = mix_seed(config_.seed, static_cast<std::uint64_t>(step()));
  std::mt19937_64 rng(step_seed);
  BatchTensors t;
  double tokens = 0;  // real (non-padding) input tokens
  if (config_.objective == Objective::causal_lm) {
    const CausalBatch sampled = sample_causal_batch(grammar_, config_.batch_size, config_.model.max_length, rng);
    t = tensors_of(sampled);
    tokens = static_cast<double>(std::count_if(sampled.targets.begin(), sampled.targets.end(),
                                               [](std::int64_t y) { return y != ignore_target; }));
  } else {
    const MaskedBatch sampled = sample_masked_batch(grammar_, config_.batch_size, rng, config_.mask_probability);
    t = tensors_of(sampled);
    tokens = static_cast<double>(std::count(sampled.padding.begin(), sampled.padding.end(), 0));
  }
  const LossAndGradients lg = loss_and_gradients(
      model_, t.batch(), {.rate = config_.attention_dropout, .seed = step_seed}, ctx_);
  StepReport r;
  r.grad_norm = optimizer_.step(model_.mutable_parameters(), lg.gradients);
  r.step = step();
  r.total_steps = config_.steps;
  r.loss = lg.loss;
  r.learning_rate = optimizer_.learning_rate(r.step);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  elapsed_ += seconds;
  r.tokens_per_second = seconds > 0 ? tokens / seconds : 0;
  r.elapsed_seconds = elapsed_;
  return r;
}

Evaluation Trainer::evaluate_held_out() const { return evaluate(model_, held_out_, ctx_); }

LmEvaluation Trainer::evaluate_held_out_lm() const {
  if (!held_out_lm_) throw_invalid("objective", "causal-lm for a language-model evaluation", "masked");
  return evaluate_lm(model_, *held_out_lm_, *next_tokens_, ctx_);
}

void Trainer::run(const std::function<void(const StepReport&)>& progress) {
  while (step() < config_.steps) {
    StepReport r = train_step();
    const bool eval_now = r.step == config_.steps || (config_.eval_every > 0 && r.step % config_.eval_every == 0);
    if (eval_now && config_.objective == Objective::causal_lm) r.lm_evaluation = evaluate_held_out_lm();
    else if (eval_now) r.evaluation = evaluate_held_out();
    if (progress) progress(r);
  }
}

Checkpoint Trainer::checkpoint(bool with_optimizer) const {
  Checkpoint c;
  c.config = config_.model;
  c.parameters = model_.parameters();
  c.vocabulary = vocabulary_;
  c.step = step();
  c.training_json = training_to_json(config_);
  if (with_optimizer)
    c.optimizer = OptimizerState{optimizer_.steps_done(), optimizer_.first_moments(),
                                 optimizer_.second_moments()};
  return c;
}

}  // namespace mha::train
