// BERT WordPiece tokenization with the semantics of Hugging Face's slow `BertTokenizer`
// (BasicTokenizer + WordpieceTokenizer); the facts are restated in /work/shared/formats.md §3.
//
//   1. decode UTF-8 to code points; invalid bytes are dropped
//   2. cut out the never_split tokens ([CLS], [SEP], …) wherever they occur; keep them verbatim
//   3. in every other segment: lowercase each character (do_lower_case), then the basic
//      tokenizer: clean, CJK spacing, NFC, split on spaces, per word lowercase and/or strip
//      accents, split off punctuation
//   4. WordPiece: greedy longest match first with "##"; a word with no full split is [UNK]
//
// Unicode data (categories, case mapping, NFC/NFD) comes from utf8proc; Debian bookworm's
// utf8proc 2.8.0 implements Unicode 15.0.0 (the same as Python 3.12's unicodedata), which
// WordPieceTokenizer::unicode_version() reports at run time. Python versions with an older
// Unicode database treat newly assigned code points as unassigned (category Cn), which the
// cleaning step drops; that is the only way the version shows through. Checked against
// Python 3.11 (Unicode 14): the character classes, lower(), NFC and accent stripping agree on
// every code point assigned in Unicode 14.
//
// Known, documented differences from Hugging Face:
//   - lowercasing never yields the final sigma 'ς': BertTokenizer.tokenize lowercases character
//     by character before the basic tokenizer, so 'Σ' → 'σ' always; basic_tokenize() keeps that
//     rule too, where a bare Python BasicTokenizer would write 'ς' at the end of a word;
//   - input is bytes, not a Python str: invalid UTF-8 bytes are dropped (as Google's
//     tokenization.py does with errors="ignore"), never an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mha/core/error.hpp"

namespace mha {

// vocab.txt: one token per line; a token's id is its 0-based line number. Lines end at '\n',
// "\r\n" or a lone '\r' (Python's universal newlines, which HF's reader uses); nothing else is
// stripped, so a line holding only spaces is the token " ". A duplicated token maps to its LAST
// id, like HF's `vocab[token] = index` dictionary, while token(id) still returns every line.
class Vocab {
 public:
  // Throws mha::Error when the file cannot be read, is empty, or is not UTF-8.
  static Vocab load(const std::filesystem::path& file);
  // `source` names the text in error messages (a path, or "vocab" for in-memory text).
  static Vocab parse(std::string_view text, std::string_view source = "vocab");

  // The id of `token`, or nullopt when the vocabulary does not hold it.
  std::optional<std::int64_t> id(std::string_view token) const;
  // The token on line `id`; throws mha::Error when id is outside [0, size()).
  const std::string& token(std::int64_t id) const;
  std::size_t size() const { return tokens_.size(); }

 private:
  // Transparent hashing so that id(string_view) looks up without building a std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> ids_;
};

struct WordPieceOptions {
  // Lowercase (full Unicode lowercase, as Python's str.lower()) before splitting.
  bool do_lower_case = true;
  // Remove accents (NFD, then drop category Mn). nullopt: follow do_lower_case (HF's default).
  std::optional<bool> strip_accents = std::nullopt;
  // Surround CJK ideographs with spaces so that each becomes its own word.
  bool tokenize_chinese_chars = true;
  // Longer words (counted in code points) become one unk_token.
  std::size_t max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  // Tokens kept verbatim: never lowercased, split or broken into word pieces, wherever they
  // appear in the text (HF's special tokens).
  std::vector<std::string> never_split = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
};

class WordPieceTokenizer {
 public:
  explicit WordPieceTokenizer(Vocab vocab, WordPieceOptions options = {});

  // dir/vocab.txt, plus do_lower_case, strip_accents and tokenize_chinese_chars from
  // dir/tokenizer_config.json when that file exists (HF defaults otherwise).
  static WordPieceTokenizer from_folder(const std::filesystem::path& dir);

  // HF BasicTokenizer: words and punctuation after cleaning, CJK spacing, NFC, lowercasing and
  // accent stripping. Does not split never_split tokens out of longer words (tokenize() does).
  std::vector<std::string> basic_tokenize(std::string_view text) const;

  // HF BertTokenizer.tokenize: never_split tokens, then word pieces of everything else.
  std::vector<std::string> tokenize(std::string_view text) const;

  struct Encoding {
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> token_type_ids;  // 0 for [CLS] A [SEP], 1 for B [SEP]
    std::vector<std::string> tokens;
  };
  // [CLS] A [SEP] or [CLS] A [SEP] B [SEP]; tokens missing from the vocabulary get the id of
  // unk_token. Throws mha::Error naming cls_token, sep_token or unk_token if the vocabulary
  // lacks it. No truncation: the model's position limit is the caller's concern.
  Encoding encode(std::string_view a, std::optional<std::string_view> b = {}) const;

  const Vocab& vocab() const { return vocab_; }
  const WordPieceOptions& options() const { return options_; }

  // The Unicode version of the linked utf8proc, e.g. "15.0.0".
  static std::string_view unicode_version();

 private:
  Vocab vocab_;
  WordPieceOptions options_;
};

}  // namespace mha
