// libFuzzer target: the metadata of an mha training checkpoint (what `mha demo --model` and
// `mha train --resume` read). The input is split at NUL bytes into mha.config, mha.vocabulary,
// mha.step, mha.training and mha.optimizer_steps; they go into an otherwise valid safetensors file
// holding the parameters of one small fixed model (so a config that matches it reaches the deeper
// checks) and, when the input's first byte is odd, its optimizer moments. load_checkpoint must
// throw mha::Error or return a checkpoint whose parameters fit its config and whose vocabulary
// has vocab_size words. Seeds: tests/fuzz/corpus/checkpoint/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/train/checkpoint.hpp"

namespace {

const mha::TensorStore& fixed_parameters() {
  static const mha::TensorStore params = mha::init_parameters(
      {.vocab_size = 4, .d_model = 4, .num_heads = 2, .num_layers = 1, .d_ff = 8, .max_length = 8,
       .norm = mha::NormPlacement::post},
      1);
  return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (fields.size() < 4) {
    const std::size_t end = text.find('\0', start);
    if (end == std::string_view::npos) break;
    fields.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  fields.emplace_back(text.substr(start));
  fields.resize(5);
  mha::SafetensorsWriter writer;
  const bool with_optimizer = size > 0 && (data[0] & 1) != 0;
  try {
    const mha::TensorStore& params = fixed_parameters();
    for (mha::Index i = 0; i < params.size(); ++i) {
      const std::string& name = params.layout().entry(i).name;
      writer.add(name, params[i]);
      if (with_optimizer) {
        writer.add("optimizer.m." + name, params[i]);
        writer.add("optimizer.v." + name, params[i]);
      }
    }
    const char* keys[] = {"mha.config", "mha.vocabulary", "mha.step", "mha.training",
                          "mha.optimizer_steps"};
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (!fields[i].empty()) writer.set_metadata(keys[i], fields[i]);
  } catch (const mha::Error&) {
    return 0;  // e.g. metadata that is not UTF-8: the writer refuses it
  }
  mha::train::Checkpoint loaded;
  try {
    loaded = mha::train::load_checkpoint(mha::SafetensorsFile::from_bytes(writer.bytes()));
  } catch (const mha::Error&) {
    return 0;  // rejected input
  }
  // Accepted: the parameters fit the config, the vocabulary has one word per id, and a model can
  // be built from them.
  try {
    const mha::Transformer model(loaded.config, loaded.parameters);
    (void)model;
  } catch (const mha::Error&) {
    __builtin_trap();
  }
  if (static_cast<mha::Index>(loaded.vocabulary.size()) != loaded.config.vocab_size) __builtin_trap();
  if (loaded.step < 0) __builtin_trap();
  return 0;
}
