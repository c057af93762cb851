// CheckpointTensors: the tensors of a Hugging Face checkpoint folder, whether they sit in one
// model.safetensors or in shards listed by model.safetensors.index.json
//   {"metadata": {...}, "weight_map": {"<tensor name>": "<shard file name>", ...}}
// Shard paths must be plain relative paths inside the folder (no absolute path, no ".."), so an
// index cannot make mha read files elsewhere; symbolic links inside the folder are followed, as
// the Hugging Face cache stores snapshot files as links to its blob store.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mha/io/safetensors.hpp"

namespace mha {

class CheckpointTensors {
 public:
  // Prefers model.safetensors, then model.safetensors.index.json. Throws mha::Error naming the
  // folder when neither exists, the index field or shard that is malformed, or a tensor that
  // the index lists but its shard lacks.
  static CheckpointTensors open(const std::filesystem::path& folder);

  const std::filesystem::path& folder() const { return folder_; }
  bool contains(std::string_view name) const;
  std::vector<std::string> names() const;  // every tensor name, sorted
  const TensorInfo& info(std::string_view name) const;  // throws for an absent name
  Tensor<float> read_f32(std::string_view name) const;  // F32, F16, BF16 or F64 as float
  // Where the tensor is stored, for messages: "model.safetensors".
  std::string file_of(std::string_view name) const;

 private:
  std::filesystem::path folder_;
  std::vector<std::string> shard_names_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::size_t, std::less<>> shard_of_;  // tensor name → index in shards_
};

}  // namespace mha
