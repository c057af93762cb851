#include "io/wordpiece_unicode.hpp"

#include <utf8proc.h>

#include <array>
#include <cstdint>
#include <vector>

#include "core/check.hpp"

namespace mha::wordpiece {
namespace {

// Inclusive range of bytes allowed right after a lead byte (RFC 3629 table 3-7: this is what
// excludes overlong forms, surrogates and code points above U+10FFFF).
struct SecondByteRange {
  std::uint8_t low;
  std::uint8_t high;
};

// Sequence length announced by `lead` (0: not a lead byte) and the range of its second byte.
std::size_t sequence_length(std::uint8_t lead, SecondByteRange& second) {
  second = {0x80, 0xBF};
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) second = {0xA0, 0xBF};
    if (lead == 0xED) second = {0x80, 0x9F};
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) second = {0x90, 0xBF};
    if (lead == 0xF4) second = {0x80, 0x8F};
    return 4;
  }
  return 0;
}

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// Runs utf8proc's decomposition (canonical, since no COMPAT flag is passed) with `options`,
// then its composition step when options include UTF8PROC_COMPOSE.
std::u32string normalize(std::u32string_view text, utf8proc_option_t options) {
  const std::string utf8 = encode_utf8(text);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto byte_count = static_cast<utf8proc_ssize_t>(utf8.size());
  // A canonical decomposition is at most a few code points per input code point; ask utf8proc
  // for the exact size when the first guess is short.
  std::vector<utf8proc_int32_t> buffer(text.size() * 4 + 4);
  utf8proc_ssize_t length = 0;
  for (;;) {
    length = utf8proc_decompose(bytes, byte_count, buffer.data(),
                                static_cast<utf8proc_ssize_t>(buffer.size()), options);
    MHA_CHECK(length >= 0);
    if (static_cast<std::size_t>(length) <= buffer.size()) break;
    buffer.resize(static_cast<std::size_t>(length));
  }
  if ((options & UTF8PROC_COMPOSE) != 0) {
    length = utf8proc_normalize_utf32(buffer.data(), length, options);
    MHA_CHECK(length >= 0);
  }
  std::u32string out;
  out.reserve(static_cast<std::size_t>(length));
  for (utf8proc_ssize_t i = 0; i < length; ++i) {
    out.push_back(static_cast<char32_t>(buffer[static_cast<std::size_t>(i)]));
  }
  return out;
}

}  // namespace

std::u32string decode_utf8_lossy(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<std::uint8_t>(bytes[i]);
    SecondByteRange second{};
    const std::size_t length = sequence_length(lead, second);
    if (length == 0) {  // a stray continuation byte or a byte UTF-8 never uses
      ++i;
      continue;
    }
    char32_t code_point = length == 1 ? lead : lead & (0xFFu >> (length + 1));
    // Consume continuation bytes until the sequence is complete or one does not fit; on a
    // misfit, the bytes read so far are the ill-formed subpart and decoding resumes at the misfit.
    std::size_t k = 1;
    for (; k < length && i + k < bytes.size(); ++k) {
      const auto byte = static_cast<std::uint8_t>(bytes[i + k]);
      const std::uint8_t low = k == 1 ? second.low : 0x80;
      const std::uint8_t high = k == 1 ? second.high : 0xBF;
      if (byte < low || byte > high) break;
      code_point = (code_point << 6) | (byte & 0x3Fu);
    }
    if (k == length) out.push_back(code_point);
    i += k;
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  std::array<utf8proc_uint8_t, 4> bytes{};
  for (const char32_t c : text) {
    const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), bytes.data());
    MHA_CHECK(n > 0);
    out.append(reinterpret_cast<const char*>(bytes.data()), static_cast<std::size_t>(n));
  }
  return out;
}

bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || category(c) == UTF8PROC_CATEGORY_ZS;
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

bool is_bert_punctuation(char32_t c) {
  // BERT counts every non-alphanumeric printable ASCII character as punctuation, so that
  // "$", "^", "`", "+", "<", "=", ">", "|" and "~" split words although they are symbols (S*).
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  const utf8proc_category_t cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_python_space(char32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return true;
  if (c >= 0x2000 && c <= 0x200A) return true;
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return false;
  }
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: SpecialCasing "0069 0307"
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

std::u32string nfc(std::u32string_view text) {
  return normalize(text, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
}

std::u32string nfd(std::u32string_view text) {
  return normalize(text, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
}

std::u32string strip_accents(std::u32string_view text) {
  std::u32string out;
  for (const char32_t c : nfd(text)) {
    if (category(c) != UTF8PROC_CATEGORY_MN) out.push_back(c);
  }
  return out;
}

}  // namespace mha::wordpiece
