// HF BasicTokenizer.tokenize, step by step (numbers as in formats.md §3).
#include "io/wordpiece_basic.hpp"

#include <algorithm>

#include "io/wordpiece_unicode.hpp"

namespace mha::wordpiece {
namespace {

// Step 1: drop NUL, U+FFFD and control characters; every whitespace character becomes ' '.
std::u32string clean(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    out.push_back(is_bert_whitespace(c) ? U' ' : c);
  }
  return out;
}

// Step 2: a space on both sides of each CJK ideograph, so that each one is a word.
std::u32string space_out_cjk(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    if (is_cjk_ideograph(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Steps 4 and 7: Python's str.split() — maximal runs of non-space characters.
void append_words(std::u32string_view text, std::vector<std::u32string>& out) {
  std::size_t start = 0;
  while (start < text.size()) {
    while (start < text.size() && is_python_space(text[start])) ++start;
    std::size_t end = start;
    while (end < text.size() && !is_python_space(text[end])) ++end;
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end;
  }
}

// Step 6: each punctuation character on its own; the runs between stay whole.
void append_punctuation_split(std::u32string_view word, std::vector<std::u32string>& out) {
  std::u32string run;
  for (const char32_t c : word) {
    if (is_bert_punctuation(c)) {
      if (!run.empty()) out.push_back(std::move(run));
      run.clear();
      out.emplace_back(1, c);
    } else {
      run.push_back(c);
    }
  }
  if (!run.empty()) out.push_back(std::move(run));
}

}  // namespace

BasicTokenizer::BasicTokenizer(const WordPieceOptions& options)
    : lowercase_(options.do_lower_case),
      // HF: strip_accents=None follows do_lower_case; True/False decide on their own.
      strip_accents_(options.strip_accents.value_or(options.do_lower_case)),
      tokenize_chinese_chars_(options.tokenize_chinese_chars) {
  for (const std::string& token : options.never_split) {
    std::u32string decoded = decode_utf8_lossy(token);
    if (!decoded.empty()) never_split_.push_back(std::move(decoded));
  }
}

bool BasicTokenizer::is_never_split(std::u32string_view token) const {
  return std::find(never_split_.begin(), never_split_.end(), token) != never_split_.end();
}

std::u32string_view BasicTokenizer::never_split_prefix(std::u32string_view text) const {
  std::u32string_view longest;
  for (const std::u32string& token : never_split_) {
    if (token.size() > longest.size() && text.starts_with(token)) longest = token;
  }
  return longest;
}

std::vector<std::u32string> BasicTokenizer::tokenize(std::u32string_view text) const {
  std::u32string cleaned = clean(text);
  if (tokenize_chinese_chars_) cleaned = space_out_cjk(cleaned);
  // Step 3 (HF only): NFC, so that precomposed and combining spellings become the same word.
  std::vector<std::u32string> words;
  append_words(nfc(cleaned), words);

  std::vector<std::u32string> pieces;
  for (std::u32string& word : words) {
    if (is_never_split(word)) {
      pieces.push_back(std::move(word));
      continue;
    }
    // Step 5: lowercase, then strip accents (NFD, drop Mn).
    if (lowercase_) {
      std::u32string lowered;
      for (const char32_t c : word) append_lowercase(c, lowered);
      word = std::move(lowered);
    }
    if (strip_accents_) word = strip_accents(word);
    // HF checks never_split again after the case change, so a lowercase special token survives.
    if (is_never_split(word)) {
      pieces.push_back(std::move(word));
    } else {
      append_punctuation_split(word, pieces);
    }
  }

  // Step 7: the final whitespace split of the joined pieces.
  std::vector<std::u32string> tokens;
  for (const std::u32string& piece : pieces) append_words(piece, tokens);
  return tokens;
}

}  // namespace mha::wordpiece
