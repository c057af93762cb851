#include "mha/lang/vocabulary.hpp"

#include <cctype>
#include <string>

#include "mha/core/error.hpp"

namespace mha::lang {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Only ASCII is folded: the languages are ASCII, and a non-ASCII byte then simply makes the
// word unknown instead of being half-folded.
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_stripped_punctuation(char c) {
  return std::string_view(".,;:!?\"'()").find(c) != std::string_view::npos;
}

// Appended piece by piece: "\"" + word + "\"" trips GCC 12's false -Wrestrict (bug 105651).
std::string quoted(std::string_view word) {
  std::string text(1, '"');
  text.append(word).push_back('"');
  return text;
}

}  // namespace

Vocabulary::Vocabulary(std::span<const std::string> words) {
  words_.reserve(words.size() + 2);
  words_.emplace_back(pad_word);
  words_.emplace_back(mask_word);
  ids_.emplace(std::string(pad_word), pad);
  ids_.emplace(std::string(mask_word), mask);
  for (const std::string& w : words) {
    bool plain = !w.empty();
    for (char c : w) plain = plain && !is_space(c) && !(c >= 'A' && c <= 'Z');
    if (!plain) throw_invalid("words", "non-empty lowercase words without whitespace", quoted(w));
    if (ids_.contains(w)) throw_invalid("words", "distinct words, not the specials", quoted(w));
    ids_.emplace(w, static_cast<std::int64_t>(words_.size()));
    words_.push_back(w);
  }
}

bool Vocabulary::contains(std::string_view word) const { return ids_.contains(std::string(word)); }

std::int64_t Vocabulary::id(std::string_view word, const std::string& argument) const {
  const auto it = ids_.find(std::string(word));
  if (it == ids_.end()) throw_invalid(argument, "a word of the vocabulary", quoted(word));
  return it->second;
}

const std::string& Vocabulary::word(std::int64_t id) const {
  if (id < 0 || id >= size()) {
    throw_invalid("id", "an id in [0, " + std::to_string(size()) + ")", std::to_string(id));
  }
  return words_[static_cast<std::size_t>(id)];
}

std::vector<std::int64_t> Vocabulary::encode(std::string_view text,
                                             const std::string& argument) const {
  std::vector<std::int64_t> ids;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t end = i;
    while (end < text.size() && !is_space(text[end])) ++end;
    std::size_t first = i;
    std::size_t last = end;
    while (first < last && is_stripped_punctuation(text[first])) ++first;
    while (last > first && is_stripped_punctuation(text[last - 1])) --last;
    if (first < last) {
      std::string token;
      for (std::size_t k = first; k < last; ++k) token.push_back(ascii_lower(text[k]));
      // The specials are spelled in uppercase; lowercasing the token must not hide them.
      if (token == "[pad]") {
        ids.push_back(pad);
      } else if (token == "[mask]") {
        ids.push_back(mask);
      } else {
        ids.push_back(id(token, argument));
      }
    }
    i = end;
  }
  return ids;
}

std::string Vocabulary::decode(std::span<const std::int64_t> ids) const {
  std::string text;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (k > 0) text.push_back(' ');
    text += word(ids[k]);
  }
  return text;
}

Vocabulary Vocabulary::from_all_words(std::span<const std::string> all_words) {
  if (all_words.size() < 2 || all_words[0] != pad_word || all_words[1] != mask_word)
    throw_invalid("vocabulary", "[PAD] and [MASK] as ids 0 and 1",
                  all_words.empty() ? std::string("no words") : "'" + all_words[0] + "' first");
  return Vocabulary(all_words.subspan(2));
}

}  // namespace mha::lang
