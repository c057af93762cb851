// Checkpoint files: the layout is described in mha/train/checkpoint.hpp.
#include "mha/train/checkpoint.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace mha::train {
namespace {

constexpr const char* kMoment1 = "optimizer.m.";
constexpr const char* kMoment2 = "optimizer.v.";

// The store of `layout` whose tensors are read from `file` under prefix + name.
TensorStore read_store(const SafetensorsFile& file, const std::shared_ptr<const TensorLayout>& layout,
                       const std::string& prefix) {
  TensorStore store(layout);
  for (Index i = 0; i < layout->size(); ++i) {
    const TensorLayout::Entry& e = layout->entry(i);
    const std::string name = prefix + e.name;
    if (!file.contains(name)) throw_invalid(name, "a tensor of shape " + shape_str(e.shape), "missing");
    const Tensor<> t = file.read_f32(name);
    if (t.shape() != e.shape) throw_invalid(name, "shape " + shape_str(e.shape), shape_str(t.shape()));
    std::copy_n(t.data(), t.numel(), store[i].data());
  }
  return store;
}

// Adds every tensor of the store, in name order, under prefix + name.
void add_store(SafetensorsWriter& w, const TensorStore& store, const std::string& prefix) {
  for (const Index i : store.layout().by_name())
    w.add(prefix + store.layout().entry(i).name, store[i]);
}

SafetensorsWriter writer_for(const Checkpoint& c) {
  const TransformerTensors tensors = transformer_tensors(c.config);
  check_layout(c.parameters, *tensors.layout, "parameters");
  if (static_cast<Index>(c.vocabulary.size()) != c.config.vocab_size)
    throw_invalid("vocabulary", std::to_string(c.config.vocab_size) + " words (vocab_size)",
                  std::to_string(c.vocabulary.size()));
  SafetensorsWriter w;
  add_store(w, c.parameters, "");
  if (c.optimizer) {
    check_layout(c.optimizer->first_moments, *tensors.layout, "first moments");
    check_layout(c.optimizer->second_moments, *tensors.layout, "second moments");
    add_store(w, c.optimizer->first_moments, kMoment1);
    add_store(w, c.optimizer->second_moments, kMoment2);
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

  const TransformerTensors tensors = transformer_tensors(c.config);
  bool has_optimizer = false;
  for (const std::string& name : file.names()) {
    if (name.starts_with(kMoment1) || name.starts_with(kMoment2)) {
      has_optimizer = true;
      continue;
    }
    if (!tensors.layout->find(name)) throw_invalid(name, "no such parameter in this config", "an extra tensor");
  }
  c.parameters = read_store(file, tensors.layout, "");
  if (has_optimizer) {
    OptimizerState state;
    state.steps_done = parse_count(metadata(file, "mha.optimizer_steps"), "mha.optimizer_steps");
    state.first_moments = read_store(file, tensors.layout, kMoment1);
    state.second_moments = read_store(file, tensors.layout, kMoment2);
    c.optimizer = std::move(state);
  }
  return c;
}

}  // namespace mha::train
