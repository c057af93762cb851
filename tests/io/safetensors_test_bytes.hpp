// Hand-built safetensors images for the io tests: [N: u64 LE][header][data].
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "mha/io/safetensors.hpp"

namespace mha::testing {

using Bytes = std::vector<std::uint8_t>;

// Appends the little-endian bytes of each value (the host is little-endian: static_assert in src).
template <class T>
void append_le(Bytes& out, std::initializer_list<T> values) {
  for (const T v : values) {
    std::uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    out.insert(out.end(), raw, raw + sizeof(T));
  }
}

// A file whose length prefix says `header_length` (normally header.size()).
inline Bytes file_bytes_with_length(std::uint64_t header_length, std::string_view header,
                                    const Bytes& data = {}) {
  Bytes out;
  append_le<std::uint64_t>(out, {header_length});
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline Bytes file_bytes(std::string_view header, const Bytes& data = {}) {
  return file_bytes_with_length(header.size(), header, data);
}

// Passes when from_bytes throws SafetensorsError of `kind` whose message contains `fragment`.
inline ::testing::AssertionResult rejects(const Bytes& file, SafetensorsError::Kind kind,
                                          std::string_view fragment = {}) {
  try {
    SafetensorsFile::from_bytes(file);
  } catch (const SafetensorsError& e) {
    if (e.kind() != kind)
      return ::testing::AssertionFailure()
             << "expected " << kind_name(kind) << ", got " << kind_name(e.kind()) << ": "
             << e.what();
    if (std::string_view(e.what()).find(fragment) == std::string_view::npos)
      return ::testing::AssertionFailure()
             << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "accepted; expected " << kind_name(kind);
}

}  // namespace mha::testing
