// Masked-token batches of the attachment language, for training and for a fixed evaluation set.
//
// Layout: row-major [batch, length], length = the longest sentence in the batch.
//   inputs   the sentence ids, Vocabulary::mask at masked positions, Vocabulary::pad after the end
//   targets  the original id at masked positions, -1 elsewhere (ignored by the loss)
//   padding  1 at pad positions, else 0 — the key_padding_mask (true = may not attend)
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "mha/core/shape.hpp"
#include "mha/lang/attachment_grammar.hpp"

namespace mha::train {

// The target of a position that is not predicted.
inline constexpr std::int64_t ignore_target = -1;

struct MaskedBatch {
  Index batch = 0, length = 0;
  std::vector<std::int64_t> inputs;   // [batch·length]
  std::vector<std::int64_t> targets;  // [batch·length]
  std::vector<std::uint8_t> padding;  // [batch·length]
  std::vector<lang::Sentence> sentences;    // [batch], unmasked
};

// `batch` fresh sentences. Every token (determiners included) is masked independently with
// `mask_probability` and then always replaced by [MASK] (no BERT-style 10% random / 10% kept);
// a sentence that drew no mask gets one at a uniform position, so every row has a target.
// That floor makes the expected masked fraction of a length-L sentence
//   (p·L + (1 − p)^L) / L,
// about 0.19 at p = 0.15 for these 5–8 token sentences, never below 1/L.
// Throws mha::Error naming "batch" below 1 and "mask_probability" outside [0, 1].
MaskedBatch sample_masked_batch(const lang::AttachmentGrammar& grammar, Index batch, std::mt19937_64& rng,
                                double mask_probability = 0.15);

struct EvalExample {
  lang::Sentence sentence;
  Index position = 0;                 // the one masked position
  std::int64_t target = 0;            // sentence.ids[position]
  std::vector<std::int64_t> allowed;  // grammar.allowed_at(sentence.ids, position)
  // The masked token is the PP noun: the words allowed there are instruments(verb) ∪
  // attributes(object), so predicting it needs the link to the verb and to the object
  // (two_objects: to the second object, not the distractor).
  bool two_relations = false;
};

// `count` examples from std::mt19937_64(seed), one masked position each. Every third example
// (index % 3 == 0) masks the PP noun of a sentence that has one (sentences without a PP are
// skipped for those); the others mask a uniform content position (subject, verb, object,
// distractor (two_objects), bank_context, bank — not determiners, prepositions, "and" or the PP
// noun). Deterministic.
// Throws mha::Error naming "count" below 0.
std::vector<EvalExample> make_eval_set(const lang::AttachmentGrammar& grammar, Index count,
                                       std::uint64_t seed);

// Packs examples into one batch with [MASK] and a target only at each example's position.
// Throws mha::Error naming "examples" when empty or when a position is outside its sentence.
MaskedBatch eval_batch(std::span<const EvalExample> examples);

}  // namespace mha::train
