// Training checkpoints as safetensors: the model, optionally the optimizer, and what is needed to
// use or resume it, in one self-describing file.
//
//   tensors    <parameter name>              F32, the model (names: mha/models/transformer.hpp)
//              optimizer.m.<name>, optimizer.v.<name>   AdamW moments (resumable checkpoints only)
//   metadata   mha.config      TransformerConfig as JSON
//              mha.vocabulary  the vocabulary as a JSON array of words (id = index)
//              mha.step        optimizer steps done (decimal)
//              mha.training    the trainer's settings as JSON (opaque here)
// Files are written atomically (SafetensorsWriter::write): a crash never leaves half a checkpoint.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mha/io/safetensors.hpp"
#include "mha/train/adamw.hpp"
#include "mha/models/transformer.hpp"

namespace mha::train {

struct OptimizerState {
  Index steps_done = 0;
  TensorStore first_moments, second_moments;  // the parameters' layout
};

struct Checkpoint {
  TransformerConfig config;
  TensorStore parameters;  // the layout of transformer_tensors(config)
  std::vector<std::string> vocabulary;
  Index step = 0;
  std::string training_json = "{}";
  std::optional<OptimizerState> optimizer;  // present in resumable checkpoints
};

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// The bytes save_checkpoint writes.
std::vector<std::uint8_t> checkpoint_bytes(const Checkpoint& checkpoint);

// Reads and checks a checkpoint: the config, the parameters' names and shapes, the vocabulary's
// size against vocab_size, the optimizer tensors when any is present. Throws SafetensorsError for
// a malformed file and mha::Error naming the metadata key or tensor otherwise.
Checkpoint load_checkpoint(const std::filesystem::path& path);
Checkpoint load_checkpoint(const SafetensorsFile& file);

}  // namespace mha::train
