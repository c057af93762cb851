// Training a Transformer on the k-relation task (relation_task.hpp): sampled batches → loss and
// gradients → AdamW, with the held-out loss recorded along the way for learning curves.
//
// Determinism as for the Trainer: step t trains on mt19937_64(mix_seed(seed, t)), the parameters
// start from init_parameters(model, seed) and the held-out set is drawn from eval_seed alone (the
// same for every seed and setting), so a run is a pure function of (config, thread count).
#pragma once

#include <functional>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/train/adamw.hpp"
#include "mha/train/relation_task.hpp"

namespace mha::train {

struct RelationTrainingConfig {
  RelationTask task;
  // vocab_size and max_length are set from the task; d_ff 0 trains attention only.
  TransformerConfig model{.vocab_size = 0, .d_model = 32, .num_heads = 4, .num_layers = 1,
                          .d_ff = 128, .max_length = 0, .norm = NormPlacement::pre,
                          .activation = Activation::gelu, .layer_norm_eps = 1e-5, .causal = false};
  AdamWConfig optimizer;  // total_steps is set to `steps`
  Index steps = 1000, batch_size = 32;
  std::uint64_t seed = 0;
  Index eval_every = 50;         // a learning-curve point every this many steps (0: the end only)
  Index eval_sequences = 256;    // held-out sequences, (L − t₀) predictions each
  std::uint64_t eval_seed = 0x5EED0E7A2ull;
};

struct RelationCurvePoint {
  Index step = 0;
  double loss = 0;  // held-out tuple cross-entropy
};

struct RelationRun {
  RelationTrainingConfig config;  // completed: vocabulary, length and schedule filled in
  Index parameters = 0;
  RelationEvaluation evaluation;  // after the last step
  std::vector<RelationCurvePoint> curve;
  TensorStore trained;  // the final parameters
};

// The config with the task's vocabulary and length and the schedule's totals filled in; throws
// mha::Error naming the field that is out of range.
RelationTrainingConfig completed(RelationTrainingConfig config);

// Trains one model; `progress(step, total)` after every step when given.
RelationRun train_relation_model(const RelationTrainingConfig& config, const Context& ctx = {},
                                 const std::function<void(Index, Index)>& progress = {});

}  // namespace mha::train
