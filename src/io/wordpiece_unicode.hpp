// The Unicode facts BERT tokenization depends on, as predicates over code points (char32_t),
// plus the conversions between UTF-8 and UTF-32. Backed by utf8proc; see
// include/mha/io/wordpiece.hpp for the Unicode version.
#pragma once

#include <string>
#include <string_view>

namespace mha::wordpiece {

// UTF-8 → code points. Bytes that do not belong to a well-formed sequence are dropped, one
// maximal ill-formed subpart at a time, so the result equals Python's
// bytes.decode("utf-8", "ignore").
std::u32string decode_utf8_lossy(std::string_view bytes);
// Code points → UTF-8. Every input here came from decode_utf8_lossy or utf8proc, so each is a
// Unicode scalar value.
std::string encode_utf8(std::u32string_view text);

// HF `_is_whitespace`: ' ', \t, \n, \r or category Zs.
bool is_bert_whitespace(char32_t c);
// HF `_is_control`: any category C* (Cc, Cf, Cs, Co, Cn) except \t, \n, \r.
bool is_bert_control(char32_t c);
// HF `_is_punctuation`: ASCII 33–47, 58–64, 91–96, 123–126, or any category P*.
bool is_bert_punctuation(char32_t c);
// HF `_is_chinese_char`: the CJK Unified Ideographs blocks and their extensions listed in
// formats.md §3 (not Hangul, not kana).
bool is_cjk_ideograph(char32_t c);
// Python str.isspace(), which str.split() splits on: \t–\r, \x1c–\x1f, ' ', U+0085 and the
// Unicode White_Space / Zs characters (U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000).
bool is_python_space(char32_t c);

// Appends Python's c.lower(): the full lowercase mapping, i.e. the simple mapping except
// U+0130 'İ' → "i\u0307" (SpecialCasing's one unconditional lowercase expansion).
void append_lowercase(char32_t c, std::u32string& out);

// Unicode normalization forms C and D of `text`.
std::u32string nfc(std::u32string_view text);
std::u32string nfd(std::u32string_view text);
// HF `_run_strip_accents`: NFD, then drop every nonspacing mark (category Mn).
std::u32string strip_accents(std::u32string_view text);

}  // namespace mha::wordpiece
