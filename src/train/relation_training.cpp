// The k-relation training loop (relation_training.hpp).
#include "mha/train/relation_training.hpp"

#include <algorithm>
#include <random>
#include <string>

#include "core/random_draws.hpp"
#include "mha/core/error.hpp"
#include "mha/train/loss_and_gradients.hpp"

namespace mha::train {
namespace {

Tensor<std::int64_t> tensor_of(const std::vector<std::int64_t>& values, Index batch, Index length) {
  Tensor<std::int64_t> t({batch, length});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

}  // namespace

RelationTrainingConfig completed(RelationTrainingConfig c) {
  c.model.vocab_size = relation_vocab_size(c.task);  // validates the task
  c.model.max_length = c.task.length;
  c.model.causal = false;
  if (c.steps < 1) throw_invalid("steps", ">= 1", std::to_string(c.steps));
  if (c.batch_size < 1) throw_invalid("batch_size", ">= 1", std::to_string(c.batch_size));
  if (c.eval_every < 0) throw_invalid("eval_every", ">= 0", std::to_string(c.eval_every));
  if (c.eval_sequences < 1)
    throw_invalid("eval_sequences", ">= 1", std::to_string(c.eval_sequences));
  c.optimizer.total_steps = c.steps;
  c.optimizer.warmup_steps = std::min(c.optimizer.warmup_steps, c.steps);
  validate(c.model);
  validate(c.optimizer);
  return c;
}

RelationRun train_relation_model(const RelationTrainingConfig& config, const Context& ctx,
                                 const std::function<void(Index, Index)>& progress) {
  RelationRun run;
  run.config = completed(config);
  const RelationTrainingConfig& c = run.config;
  run.parameters = parameter_count(c.model);
  Transformer model(c.model, init_parameters(c.model, c.seed));
  AdamW optimizer(c.optimizer, model.parameters());
  std::mt19937_64 eval_rng(c.eval_seed);
  const RelationBatch held_out = sample_relation_batch(c.task, c.eval_sequences, eval_rng);

  auto held_out_loss = [&] { return evaluate_relations(model, c.task, held_out, ctx); };
  run.curve.push_back({0, held_out_loss().loss});
  for (Index step = 1; step <= c.steps; ++step) {
    std::mt19937_64 rng(mix_seed(c.seed, static_cast<std::uint64_t>(step - 1)));
    const RelationBatch b = sample_relation_batch(c.task, c.batch_size, rng);
    const Tensor<std::int64_t> ids = tensor_of(b.inputs, b.batch, b.length),
                               targets = tensor_of(b.targets, b.batch, b.length);
    const LossAndGradients lg =
        loss_and_gradients(model, {.input = {.input_ids = ids.view()}, .targets = targets.view()}, {}, ctx);
    optimizer.step(model.mutable_parameters(), lg.gradients);
    if (step == c.steps) {
      run.evaluation = held_out_loss();
      run.curve.push_back({step, run.evaluation.loss});
    } else if (c.eval_every > 0 && step % c.eval_every == 0) {
      run.curve.push_back({step, held_out_loss().loss});
    }
    if (progress) progress(step, c.steps);
  }
  run.trained = model.parameters();
  return run;
}

}  // namespace mha::train
