#include "mha/train/next_token_grammar.hpp"

#include <algorithm>
#include <string>

#include "mha/core/error.hpp"
#include "mha/train/causal_batches.hpp"

namespace mha::train {

NextTokenGrammar::NextTokenGrammar(const lang::AttachmentGrammar& grammar)
    : eos_(end_of_sentence_id(grammar)) {
  // A few thousand sentences of at most 8 words: every prefix is a key (~20k entries).
  for (const std::vector<std::int64_t>& sentence : grammar.sentences()) {
    for (std::size_t k = 0; k <= sentence.size(); ++k) {
      const std::int64_t next = k < sentence.size() ? sentence[k] : eos_;
      continuations_[std::vector<std::int64_t>(sentence.begin(),
                                               sentence.begin() + static_cast<std::ptrdiff_t>(k))]
          .push_back(next);
    }
  }
  for (auto& [prefix, next] : continuations_) {
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
  }
}

const std::vector<std::int64_t>& NextTokenGrammar::allowed(std::span<const std::int64_t> stream,
                                                           Index position) const {
  const auto length = static_cast<Index>(stream.size());
  if (position < 0 || position >= length)
    throw_invalid("position", "an index in [0, " + std::to_string(length) + ")", std::to_string(position));
  // The sentence in progress: the tokens after the last <eos> at or before `position` (all of
  // them when the stream does not start with one).
  const auto end = stream.begin() + position + 1;
  auto begin = end;
  while (begin != stream.begin() && *(begin - 1) != eos_) --begin;
  const auto it = continuations_.find(std::vector<std::int64_t>(begin, end));
  return it == continuations_.end() ? none_ : it->second;
}

bool NextTokenGrammar::allows(std::span<const std::int64_t> stream, Index position,
                              std::int64_t token) const {
  const std::vector<std::int64_t>& next = allowed(stream, position);
  return std::binary_search(next.begin(), next.end(), token);
}

}  // namespace mha::train
