// The trained models compiled into the binary (see scripts/train_demo_models.sh) — the two
// encoders `mha demo` runs and the language model `mha generate` runs — or a checkpoint written
// by `mha train`.
#pragma once

#include <optional>
#include <string>

#include "mha/train/checkpoint.hpp"
#include "mha/models/transformer.hpp"
#include "mha/lang/vocabulary.hpp"

namespace mha::cli {

struct DemoModel {
  std::string name;    // "built-in 4-head model" or the file path
  std::string source;  // where it comes from, for the header line
  Transformer model;
  lang::Vocabulary vocabulary;
  Index trained_steps = 0;
};

enum class BuiltInModel { four_heads, one_head, language_model };

DemoModel load_built_in(BuiltInModel which);
// "demo" and "demo-4-heads" → four_heads, "demo-1-head" → one_head, "demo-lm" →
// language_model, anything else → nullopt.
std::optional<BuiltInModel> built_in_named(const std::string& name);
// Throws mha::Error (or SafetensorsError) naming `argument` and the file for a bad checkpoint.
DemoModel load_model_file(const std::string& path, const std::string& argument);

}  // namespace mha::cli
