// Loading the demo's models: the built-in bytes go through the same validated safetensors reader
// and checkpoint checks as a file.
#include "demo_models.hpp"

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "mha/io/safetensors.hpp"

extern "C" {
extern const unsigned char mha_demo_4_heads_begin[], mha_demo_4_heads_end[];
extern const unsigned char mha_demo_1_head_begin[], mha_demo_1_head_end[];
extern const unsigned char mha_demo_lm_begin[], mha_demo_lm_end[];
}

namespace mha::cli {
namespace {

DemoModel from_checkpoint(train::Checkpoint c, std::string name, std::string source) {
  lang::Vocabulary vocabulary = lang::Vocabulary::from_all_words(c.vocabulary);
  return {std::move(name), std::move(source), Transformer(c.config, std::move(c.parameters)),
          std::move(vocabulary), c.step};
}

}  // namespace

DemoModel load_built_in(BuiltInModel which) {
  struct Embedded {
    const unsigned char *begin, *end;
    const char *name, *source;
  };
  const Embedded e =
      which == BuiltInModel::four_heads
          ? Embedded{mha_demo_4_heads_begin, mha_demo_4_heads_end, "4-head model",
                     "built in: models/demo-4-heads.safetensors"}
      : which == BuiltInModel::one_head
          ? Embedded{mha_demo_1_head_begin, mha_demo_1_head_end, "1-head model",
                     "built in: models/demo-1-head.safetensors"}
          : Embedded{mha_demo_lm_begin, mha_demo_lm_end, "language model",
                     "built in: models/demo-lm.safetensors"};
  std::vector<std::uint8_t> bytes(e.begin, e.end);
  return from_checkpoint(train::load_checkpoint(SafetensorsFile::from_bytes(std::move(bytes))), e.name,
                         e.source);
}

std::optional<BuiltInModel> built_in_named(const std::string& name) {
  if (name == "demo" || name == "demo-4-heads") return BuiltInModel::four_heads;
  if (name == "demo-1-head") return BuiltInModel::one_head;
  if (name == "demo-lm") return BuiltInModel::language_model;
  return std::nullopt;
}

DemoModel load_model_file(const std::string& path, const std::string& argument) {
  if (!std::filesystem::is_regular_file(path))
    throw_invalid(argument, "a checkpoint file written by mha train", "'" + path + "' (no such file)");
  return from_checkpoint(train::load_checkpoint(path), path, path);
}

}  // namespace mha::cli
