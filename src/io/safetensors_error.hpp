// Private helpers for SafetensorsError messages.
#pragma once

#include <string>
#include <string_view>

#include "mha/io/safetensors.hpp"

namespace mha {

// The longest header the reader accepts and the writer produces (reference MAX_HEADER_SIZE).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// Bytes of the little-endian u64 header length that opens every file.
inline constexpr std::uint64_t kLengthPrefixBytes = 8;

// Throws SafetensorsError(kind, "'<source>': <what>"), or just "<what>" when source is empty
// (bytes that came from no file).
[[noreturn]] void fail(SafetensorsError::Kind kind, std::string_view source,
                       const std::string& what);

// "'name'": tensor names and keys in messages (names past 200 bytes are shortened).
std::string single_quoted(std::string_view name);

}  // namespace mha
