// The reader's validation of a whole file image, steps 1-10 of formats.md §1.4, in that order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "mha/io/safetensors.hpp"

namespace mha {

struct ValidatedFile {
  std::uint64_t data_start = 0;  // file offset of the data buffer: 8 + N
  std::map<std::string, TensorInfo, std::less<>> tensors;
  std::map<std::string, std::string> metadata;
};

// Throws SafetensorsError of the first failing step; `source` names the file in messages
// (empty for in-memory bytes). On success every tensor's [begin, end) lies inside the data buffer
// and holds exactly its elements.
ValidatedFile validate_safetensors(std::span<const std::uint8_t> file, std::string_view source);

}  // namespace mha
