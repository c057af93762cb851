// What the attachment language allows as the next token of a stream (mha/train/causal_batches.hpp):
// the grammatical continuations a language model's prediction is checked against.
//
//   allowed(stream, t) = { w : the sentence begun after the last <eos> at or before t, extended
//                          by w, is a prefix of a sentence of the language }
//                        ∪ { <eos> : that sentence is already a whole sentence }
// so after an <eos> the allowed tokens are the sentences' first words ("the"). Built once from
// AttachmentGrammar::sentences() as a map from every sentence prefix to its continuations.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "mha/core/shape.hpp"
#include "mha/lang/attachment_grammar.hpp"

namespace mha::train {

class NextTokenGrammar {
 public:
  // The continuations of every prefix of every sentence, with <eos> = end_of_sentence_id.
  explicit NextTokenGrammar(const lang::AttachmentGrammar& grammar);

  std::int64_t end_of_sentence() const { return eos_; }
  // The tokens allowed after stream[0 … position], ascending; empty when the sentence in progress
  // is already outside the language (nothing continues it grammatically). Throws mha::Error
  // naming "position" outside [0, stream.size()).
  const std::vector<std::int64_t>& allowed(std::span<const std::int64_t> stream, Index position) const;
  bool allows(std::span<const std::int64_t> stream, Index position, std::int64_t token) const;

 private:
  std::int64_t eos_;
  std::map<std::vector<std::int64_t>, std::vector<std::int64_t>> continuations_;
  std::vector<std::int64_t> none_;
};

}  // namespace mha::train
