// Next-token batches of the attachment language, for training a causal language model and for
// its fixed held-out set.
//
// The model reads a stream of sentences, each followed by the end token <eos>, after an <eos>
// that stands for "a sentence starts here":
//   stream   <eos> the man saw the dog <eos> the girl sat on the river bank <eos> …
// A row holds whole sentences only: they are appended while the stream fits in length + 1
// tokens, so the row never ends inside a sentence. Layout: row-major [batch, length].
//   inputs   stream[0 … n−2], Vocabulary::pad after
//   targets  stream[1 … n−1] (the input shifted left by one), ignore_target (−1) after
// Padding is only ever at the end of a row, so with causal attention no real position sees it
// and no key-padding mask is needed.
//
// <eos> is a word of its own appended after the grammar's words: id = grammar vocabulary size.
// The ids of [PAD], [MASK] and every word are those of the masked models, whose vocabulary is
// unchanged ([MASK] is simply never used by the language model).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "mha/core/shape.hpp"
#include "mha/lang/attachment_grammar.hpp"
#include "mha/train/masked_batches.hpp"

namespace mha::train {

inline constexpr std::string_view end_of_sentence_word = "<eos>";

// The language model's vocabulary: the grammar's, then <eos>.
lang::Vocabulary causal_vocabulary(const lang::AttachmentGrammar& grammar);
// The id of <eos> in causal_vocabulary(grammar).
inline std::int64_t end_of_sentence_id(const lang::AttachmentGrammar& grammar) {
  return grammar.vocabulary().size();
}

struct CausalBatch {
  Index batch = 0, length = 0;
  std::vector<std::int64_t> inputs;   // [batch·length]
  std::vector<std::int64_t> targets;  // [batch·length]
  std::vector<std::vector<std::int64_t>> streams;  // [batch]: each row's whole stream
};

// Packs streams (each at most length + 1 tokens, at least 2) into a batch whose length is the
// longest stream minus one. Throws mha::Error naming "streams" when empty or a stream is shorter
// than 2 tokens.
CausalBatch causal_batch(std::vector<std::vector<std::int64_t>> streams);

// One stream: <eos>, then fresh sentences from `rng`, each followed by <eos>, while the stream
// fits in `length` + 1 tokens. The sentence that does not fit is drawn and dropped, so every row
// consumes the generator the same way. Throws mha::Error naming "length" below
// grammar.max_length() + 1 (a row must hold a sentence and its end).
std::vector<std::int64_t> sample_stream(const lang::AttachmentGrammar& grammar, Index length,
                                        std::mt19937_64& rng);

// `batch` streams of up to `length` + 1 tokens from `rng`, as one batch. Throws mha::Error
// naming "batch" below 1, or "length" as sample_stream does.
CausalBatch sample_causal_batch(const lang::AttachmentGrammar& grammar, Index batch, Index length,
                                std::mt19937_64& rng);

// The held-out set: `sentences` sentences from std::mt19937_64(seed), packed into streams of up
// to `length` + 1 tokens in order (the last stream may be short). Deterministic. Throws
// mha::Error naming "sentences" below 1 or "length" as sample_stream does.
CausalBatch causal_eval_batch(const lang::AttachmentGrammar& grammar, Index sentences, Index length,
                              std::uint64_t seed);

}  // namespace mha::train
