// The training settings that `mha train` and `mha experiment heads` share: one struct with the
// defaults of `mha train`, the flags that set them, and the TrainingConfig they make. Keeping them
// in one place means an experiment run is, by construction, a `mha train` run with the same flags.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "mha/train/trainer.hpp"

namespace mha::cli {

struct TrainingOptions {
  Index heads = 4, d_model = 64, layers = 2, steps = 2000, batch = 64, warmup = 100;
  Index d_ff = -1;  // -1: 4·d_model; 0: attention only (no feed-forward)
  double lr = 2e-3, weight_decay = 0.01, clip = 1.0, dropout = 0.0, mask = 0.15;
  std::uint64_t seed = 0;
  std::string norm = "pre", activation = "gelu";
  Index eval_every = 200;
  std::string objective = "masked";  // or causal-lm
  Index max_length = 0;  // 0: the objective's default (masked 64, causal-lm 320)
  std::string language = "attachment";  // or two-objects (docs/language.md)
};

// causal-lm's defaults where the flag was not given: rows of 320 tokens (a 32-token prompt and
// 256 generated tokens fit), 8 rows per step.
inline constexpr Index kCausalMaxLength = 320, kCausalBatch = 8;

// --d-model, --layers, --steps, --batch, --lr and --language: the flags both commands expose.
void add_shared_training_options(CLI::App& command, TrainingOptions& options);
// Every model and optimizer flag of `mha train`: the shared ones plus --heads, --d-ff, --warmup,
// --norm, --seed, --eval-every, ….
void add_full_training_options(CLI::App& command, TrainingOptions& options);

// The TrainingConfig for these options. Throws mha::Error naming --norm, --activation,
// --objective, --language or --heads (which must divide --d-model) when one is invalid.
train::TrainingConfig training_config(const TrainingOptions& options);

// A check for sizes and counts: 1 … 2⁴⁰.
CLI::Range positive_count();

}  // namespace mha::cli
