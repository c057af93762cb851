// Vocabulary: a closed word list for the synthetic training languages, word ↔ id.
//
// Ids are std::int64_t, the type mha::Embedding looks up. Two ids are reserved:
//   0 = "[PAD]"  (fills a batch row after the sentence ends; key_padding_mask hides it)
//   1 = "[MASK]" (replaces a token the model must predict)
// and the words follow from id 2 in the order given. Words are lowercase ASCII without
// whitespace; the languages have no punctuation tokens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mha::lang {

class Vocabulary {
 public:
  static constexpr std::int64_t pad = 0;
  static constexpr std::int64_t mask = 1;
  static constexpr std::string_view pad_word = "[PAD]";
  static constexpr std::string_view mask_word = "[MASK]";

  // Throws mha::Error naming "words" for an empty word, a word with whitespace or an uppercase
  // letter, a special word, or a duplicate.
  explicit Vocabulary(std::span<const std::string> words);
  // From the list words() returns (what a checkpoint stores): the two specials first, then the
  // words. Throws mha::Error naming "vocabulary" when the specials are not ids 0 and 1.
  static Vocabulary from_all_words(std::span<const std::string> all_words);

  // Number of ids, the two specials included.
  std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }

  bool contains(std::string_view word) const;

  // The id of `word` (the specials by their bracketed names). Throws mha::Error
  // "<argument>: expected a word of the vocabulary, got "<word>"".
  std::int64_t id(std::string_view word, const std::string& argument = "word") const;

  // The word of an id; throws mha::Error naming "id" outside [0, size()).
  const std::string& word(std::int64_t id) const;

  // Text → ids: lowercases ASCII, splits on whitespace, strips leading and trailing
  // punctuation (. , ; : ! ? " ' ( )) from each token and drops tokens that were only
  // punctuation. "[MASK]" and "[PAD]" (any case) give the special ids, so
  // "The man saw the astronaut with a [MASK]." encodes. An unknown word throws as id() does,
  // naming `argument`.
  std::vector<std::int64_t> encode(std::string_view text,
                                   const std::string& argument = "text") const;

  // Ids → words joined by single spaces (checked as word() is).
  std::string decode(std::span<const std::int64_t> ids) const;

  // Every word by id, the specials first.
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

}  // namespace mha::lang
