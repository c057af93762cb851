// HF WordpieceTokenizer.tokenize for one word: greedy longest-match-first.
//
//   start = 0
//   while start < n:  end = the largest e in (start, n] such that piece(start, e) ∈ vocab,
//                     where piece(s, e) = ("##" if s > 0) + word[s, e)
//                     (no such e → the whole word is unk_token)
//                     emit piece(start, end); start = end
#include "io/wordpiece_basic.hpp"
#include "io/wordpiece_unicode.hpp"

namespace mha::wordpiece {

void append_word_pieces(std::u32string_view word, const Vocab& vocab,
                        const WordPieceOptions& options, std::vector<std::string>& out) {
  if (word.empty()) return;
  if (word.size() > options.max_input_chars_per_word) {
    out.push_back(options.unk_token);
    return;
  }
  // Pieces are cut at code point boundaries; byte_at[i] is where code point i starts in utf8.
  std::string utf8;
  std::vector<std::size_t> byte_at;
  byte_at.reserve(word.size() + 1);
  for (const char32_t c : word) {
    byte_at.push_back(utf8.size());
    utf8 += encode_utf8(std::u32string_view(&c, 1));
  }
  byte_at.push_back(utf8.size());

  std::vector<std::string> pieces;
  std::string candidate;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    bool found = false;
    for (; end > start; --end) {
      candidate = start > 0 ? "##" : "";
      candidate.append(utf8, byte_at[start], byte_at[end] - byte_at[start]);
      if (vocab.id(candidate)) {
        found = true;
        break;
      }
    }
    if (!found) {
      out.push_back(options.unk_token);
      return;
    }
    pieces.push_back(candidate);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

}  // namespace mha::wordpiece
