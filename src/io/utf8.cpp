#include "io/utf8.hpp"

namespace mha {
namespace {

bool in(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) { return b >= lo && b <= hi; }

// Length of the well-formed sequence starting at bytes[i], or 0. Unicode Table 3-7
// ("Well-Formed UTF-8 Byte Sequences") fixes the allowed range of the second byte per lead byte.
std::size_t sequence_length(std::span<const std::uint8_t> bytes, std::size_t i) {
  const std::uint8_t lead = bytes[i];
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t second_lo = 0x80, second_hi = 0xBF;
  if (in(lead, 0xC2, 0xDF)) {
    length = 2;
  } else if (in(lead, 0xE0, 0xEF)) {
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;  // no overlong 3-byte forms
    if (lead == 0xED) second_hi = 0x9F;  // no surrogates U+D800..DFFF
  } else if (in(lead, 0xF0, 0xF4)) {
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;  // no overlong 4-byte forms
    if (lead == 0xF4) second_hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (bytes.size() - i < length) return 0;
  if (!in(bytes[i + 1], second_lo, second_hi)) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (!in(bytes[i + k], 0x80, 0xBF)) return 0;
  return length;
}

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t length = sequence_length(bytes, i);
    if (length == 0) return i;
    i += length;
  }
  return std::nullopt;
}

}  // namespace mha
