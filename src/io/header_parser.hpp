// Step 5 of the reader (formats.md §1.4): the JSON header, parsed as a stream of SAX events
// straight into typed entries. Streaming lets us see every key, so a repeated key is caught
// (a DOM parser keeps only one of them), and lets us refuse any nesting the format does not have
// as soon as it opens, so memory stays proportional to the legitimate structure.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/io/safetensors.hpp"

namespace mha {

// One tensor entry as written in the header, before the offset and size checks (steps 6-10).
// Extents stay unsigned 64-bit here, as in the reference (usize); the range check comes later.
struct RawTensorEntry {
  DType dtype = DType::F32;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct RawHeader {
  std::map<std::string, RawTensorEntry> tensors;
  std::map<std::string, std::string> metadata;
};

// `json` is the header (already known to be UTF-8); `header_offset` is its position in the file
// (for messages). Throws SafetensorsError: InvalidJson (syntax, a UTF-8 byte order mark, value
// types, missing or unknown tensor fields), UnknownDType, DuplicateName (a key repeated in any
// object) or InvalidMetadata.
RawHeader parse_header(std::span<const std::uint8_t> json, std::uint64_t header_offset,
                       std::string_view source);

}  // namespace mha
