// Checkpoint files: the layout is described in mha/train/checkpoint.hpp.
#include "mha/train/checkpoint.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace mha::train {
namespace {

constexpr const char* kMoment1 = "optimizer.m.";
constexpr const char* kMoment2 = "optimizer.v.";

SafetensorsWriter writer_for(const Checkpoint& c) {
  check_parameters(c.config, c.parameters);
  if (static_cast<Index>(c.vocabulary.size()) != c.config.vocab_size)
    throw_invalid("vocabulary", std::to_string(c.config.vocab_size) + " words (vocab_size)",
                  std::to_string(c.vocabulary.size()));
  SafetensorsWriter w;
  for (const auto& [name, t] : c.parameters) w.add(name, t.view());
  if (c.optimizer) {
    for (const auto& [name, t] : c.optimizer->first_moments) w.add(kMoment1 + name, t.view());
    for (const auto& [name, t] : c.optimizer->second_moments) w.add(kMoment2 + name, t.view());
  }
  w.set_metadata("mha.config", config_to_json(c.config));
  w.set_metadata("mha.vocabulary", nlohmann::json(c.vocabulary).dump());
  w.set_metadata("mha.step", std::to_string(c.step));
  w.set_metadata("mha.training", c.training_json);
  if (c.optimizer) w.set_metadata("mha.optimizer_steps", std::to_string(c.optimizer->steps_done));
  return w;
}

const std::string& metadata(const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end())
    throw_invalid(key, "a metadata entry of an mha checkpoint", "missing");
  return it->second;
}

Index parse_count(const std::string& text, const std::string& key) {
  Index value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    throw_invalid(key, "a decimal count >= 0", "'" + text + "'");
  return value;
}

}  // namespace

std::vector<std::uint8_t> checkpoint_bytes(const Checkpoint& checkpoint) {
  return writer_for(checkpoint).bytes();
}

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  writer_for(checkpoint).write(path);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  return load_checkpoint(SafetensorsFile::open(path));
}

Checkpoint load_checkpoint(const SafetensorsFile& file) {
  Checkpoint c;
  c.config = config_from_json(metadata(file, "mha.config"));
  const nlohmann::json words =
      nlohmann::json::parse(metadata(file, "mha.vocabulary"), nullptr, /*allow_exceptions=*/false);
  if (!words.is_array()) throw_invalid("mha.vocabulary", "a JSON array of strings", "not an array");
  for (const nlohmann::json& w : words) {
    if (!w.is_string()) throw_invalid("mha.vocabulary", "a JSON array of strings", w.dump());
    c.vocabulary.push_back(w.get<std::string>());
  }
  if (static_cast<Index>(c.vocabulary.size()) != c.config.vocab_size)
    throw_invalid("mha.vocabulary", std::to_string(c.config.vocab_size) + " words (vocab_size)",
                  std::to_string(c.vocabulary.size()));
  c.step = parse_count(metadata(file, "mha.step"), "mha.step");
  c.training_json = metadata(file, "mha.training");

  bool has_optimizer = false;
  for (const std::string& name : file.names()) {
    if (name.starts_with(kMoment1) || name.starts_with(kMoment2)) {
      has_optimizer = true;
      continue;
    }
    c.parameters.emplace(name, file.read_f32(name));
  }
  check_parameters(c.config, c.parameters);
  if (has_optimizer) {
    OptimizerState state;
    state.steps_done = parse_count(metadata(file, "mha.optimizer_steps"), "mha.optimizer_steps");
    for (const auto& [name, t] : c.parameters) {
      state.first_moments.emplace(name, file.read_f32(kMoment1 + name));
      state.second_moments.emplace(name, file.read_f32(kMoment2 + name));
    }
    check_parameters(c.config, state.first_moments);
    check_parameters(c.config, state.second_moments);
    c.optimizer = std::move(state);
  }
  return c;
}

}  // namespace mha::train
