// Opening a checkpoint folder: one safetensors file, or an index that spreads tensors over shards.
#include "models/checkpoint_tensors.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mha/core/error.hpp"

namespace mha {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// A shard named by the index must be a relative path without ".." that stays in the folder.
void check_shard_path(const std::string& shard, const fs::path& index_path) {
  const fs::path path(shard);
  bool escapes =
      shard.empty() || path.is_absolute() || path.has_root_name() || path.has_root_directory();
  for (const fs::path& part : path) escapes = escapes || part == "..";
  if (escapes)
    throw_invalid(index_path.string() + " weight_map",
                  "shard file names relative to the checkpoint folder, without '..'",
                  "\"" + shard + "\"");
}

json read_index(const fs::path& index_path) {
  std::ifstream file(index_path, std::ios::binary);
  if (!file) throw_invalid(index_path.string(), "a readable file", "an unreadable file");
  std::ostringstream text;
  text << file.rdbuf();
  json index;
  try {
    index = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw_invalid(index_path.string(), "valid JSON",
                  std::string("a syntax error (") + e.what() + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw_invalid(index_path.string(), "an object with a \"weight_map\" object",
                  std::string("a JSON ") + index.type_name() + " without one");
  return index;
}

}  // namespace

CheckpointTensors CheckpointTensors::open(const fs::path& folder) {
  CheckpointTensors c;
  c.folder_ = folder;
  if (fs::is_regular_file(folder / kSingleFile)) {
    c.shards_.push_back(SafetensorsFile::open(folder / kSingleFile));
    c.shard_names_.emplace_back(kSingleFile);
    for (std::string& name : c.shards_.front().names()) c.shard_of_.emplace(std::move(name), 0);
    return c;
  }
  const fs::path index_path = folder / kIndexFile;
  if (!fs::is_regular_file(index_path))
    throw_invalid("checkpoint folder '" + folder.string() + "'",
                  std::string("a ") + kSingleFile + " or a " + kIndexFile, "neither");
  const json index = read_index(index_path);
  std::map<std::string, std::size_t> shard_number;
  for (const auto& entry : index.at("weight_map").items()) {
    const std::string& name = entry.key();
    const json& shard = entry.value();
    if (!shard.is_string())
      throw_invalid(index_path.string() + " weight_map[\"" + name + "\"]", "a shard file name",
                    std::string("a JSON ") + shard.type_name());
    const std::string shard_name = shard.get<std::string>();
    check_shard_path(shard_name, index_path);
    auto [it, added] = shard_number.emplace(shard_name, c.shards_.size());
    if (added) {
      c.shards_.push_back(SafetensorsFile::open(folder / shard_name));
      c.shard_names_.push_back(shard_name);
    }
    if (!c.shards_[it->second].contains(name))
      throw_invalid("tensor '" + name + "'",
                    "in shard " + shard_name + " (as " + kIndexFile + " says)",
                    "a shard without it");
    c.shard_of_.emplace(name, it->second);
  }
  return c;
}

bool CheckpointTensors::contains(std::string_view name) const { return shard_of_.contains(name); }

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> out;
  out.reserve(shard_of_.size());
  for (const auto& entry : shard_of_) out.push_back(entry.first);
  return out;
}

const TensorInfo& CheckpointTensors::info(std::string_view name) const {
  const auto it = shard_of_.find(name);
  if (it == shard_of_.end())
    throw_invalid("tensor '" + std::string(name) + "'", "present in " + folder_.string(), "absent");
  return shards_[it->second].info(name);
}

Tensor<float> CheckpointTensors::read_f32(std::string_view name) const {
  info(name);  // names the folder when absent
  return shards_[shard_of_.find(name)->second].read_f32(name);
}

std::string CheckpointTensors::file_of(std::string_view name) const {
  const auto it = shard_of_.find(name);
  return it == shard_of_.end() ? std::string() : shard_names_[it->second];
}

}  // namespace mha
