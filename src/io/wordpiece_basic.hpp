// HF BasicTokenizer on code points, and the WordPiece split of one word. Private to
// src/io/wordpiece*.cpp; the public face is mha::WordPieceTokenizer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mha/io/wordpiece.hpp"

namespace mha::wordpiece {

class BasicTokenizer {
 public:
  explicit BasicTokenizer(const WordPieceOptions& options);

  // Clean, space out CJK ideographs, NFC, split on spaces; then per word (unless never_split):
  // lowercase and/or strip accents, split off punctuation.
  std::vector<std::u32string> tokenize(std::u32string_view text) const;

  bool is_never_split(std::u32string_view token) const;
  // The longest never_split token that `text` starts with; empty when none does.
  std::u32string_view never_split_prefix(std::u32string_view text) const;

 private:
  bool lowercase_;
  bool strip_accents_;
  bool tokenize_chinese_chars_;
  std::vector<std::u32string> never_split_;
};

// Greedy longest-match-first WordPiece split of one basic token, appended to `out`: pieces after
// the first carry the "##" prefix; a word longer than options.max_input_chars_per_word code
// points, or with any position where no piece matches, becomes a single options.unk_token.
void append_word_pieces(std::u32string_view word, const Vocab& vocab,
                        const WordPieceOptions& options, std::vector<std::string>& out);

}  // namespace mha::wordpiece
