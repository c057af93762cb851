// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF —
// the same acceptance as Rust's str::from_utf8, which the reference reader uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mha {

// Offset of the first byte that does not start a well-formed sequence; nullopt when all is valid.
std::optional<std::size_t> first_invalid_utf8(std::span<const std::uint8_t> bytes);

inline bool is_valid_utf8(std::string_view text) {
  return !first_invalid_utf8({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace mha
