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
  const bool four = which == BuiltInModel::four_heads;
  const unsigned char* begin = four ? mha_demo_4_heads_begin : mha_demo_1_head_begin;
  const unsigned char* end = four ? mha_demo_4_heads_end : mha_demo_1_head_end;
  std::vector<std::uint8_t> bytes(begin, end);
  return from_checkpoint(train::load_checkpoint(SafetensorsFile::from_bytes(std::move(bytes))),
                         four ? "4-head model" : "1-head model",
                         four ? "built in: models/demo-4-heads.safetensors"
                              : "built in: models/demo-1-head.safetensors");
}

std::optional<BuiltInModel> built_in_named(const std::string& name) {
  if (name == "demo" || name == "demo-4-heads") return BuiltInModel::four_heads;
  if (name == "demo-1-head") return BuiltInModel::one_head;
  return std::nullopt;
}

DemoModel load_model_file(const std::string& path, const std::string& argument) {
  if (!std::filesystem::is_regular_file(path))
    throw_invalid(argument, "a checkpoint file written by mha train", "'" + path + "' (no such file)");
  return from_checkpoint(train::load_checkpoint(path), path, path);
}

}  // namespace mha::cli
