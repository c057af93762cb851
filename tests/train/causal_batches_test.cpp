// Next-token batches: the targets are the inputs shifted by one, rows hold whole sentences
// between <eos> tokens, padding only ends a row and is never a target, and a seed fixes a batch.
#include "mha/train/causal_batches.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::train {
namespace {

const lang::AttachmentGrammar& grammar() {
  static const lang::AttachmentGrammar g;
  return g;
}

std::size_t at(const CausalBatch& c, Index b, Index t) { return static_cast<std::size_t>(b * c.length + t); }

TEST(CausalVocabulary, AppendsEosAndKeepsEveryOtherId) {
  const lang::Vocabulary& words = grammar().vocabulary();
  const lang::Vocabulary lm = causal_vocabulary(grammar());
  ASSERT_EQ(lm.size(), words.size() + 1);
  for (std::int64_t id = 0; id < words.size(); ++id) EXPECT_EQ(lm.word(id), words.word(id)) << id;
  EXPECT_EQ(lm.id(end_of_sentence_word), end_of_sentence_id(grammar()));
  EXPECT_EQ(lm.word(lm.size() - 1), "<eos>");
  // A prompt with <eos> encodes: the end token survives the punctuation stripping.
  EXPECT_EQ(lm.encode("the man <eos> the").size(), 4u);
}

TEST(CausalBatch, TargetsAreTheInputsShiftedByOne) {
  const CausalBatch c = causal_batch({{9, 2, 3, 4, 9}, {9, 5, 9}});
  ASSERT_EQ(c.batch, 2);
  ASSERT_EQ(c.length, 4);
  EXPECT_EQ(c.inputs, (std::vector<std::int64_t>{9, 2, 3, 4, /**/ 9, 5, 0, 0}));
  EXPECT_EQ(c.targets, (std::vector<std::int64_t>{2, 3, 4, 9, /**/ 5, 9, -1, -1}));
  EXPECT_THROW(causal_batch({}), Error);
  EXPECT_THROW(causal_batch({{9}}), Error);
}

TEST(CausalBatch, SampledRowsHoldWholeSentencesBetweenEos) {
  std::mt19937_64 rng(3);
  const Index length = 40;
  const CausalBatch c = sample_causal_batch(grammar(), 16, length, rng);
  const std::int64_t eos = end_of_sentence_id(grammar());
  ASSERT_EQ(c.batch, 16);
  ASSERT_LE(c.length, length);
  for (Index b = 0; b < c.batch; ++b) {
    const std::vector<std::int64_t>& s = c.streams[static_cast<std::size_t>(b)];
    ASSERT_LE(static_cast<Index>(s.size()), length + 1);
    // Full enough that one more sentence (up to 8 words and <eos>) could not fit.
    EXPECT_GT(static_cast<Index>(s.size()) + grammar().max_length() + 1, length + 1) << "row " << b;
    EXPECT_EQ(s.front(), eos);
    EXPECT_EQ(s.back(), eos);
    // Every sentence between two <eos> is one of the language.
    for (auto begin = s.begin() + 1; begin < s.end();) {
      const auto end = std::find(begin, s.end(), eos);
      ASSERT_NE(end, s.end());
      EXPECT_TRUE(grammar().derivable(std::vector<std::int64_t>(begin, end)));
      begin = end + 1;
    }
    const auto n = static_cast<Index>(s.size()) - 1;  // real positions of the row
    for (Index t = 0; t < c.length; ++t) {
      if (t < n) {
        EXPECT_EQ(c.inputs[at(c, b, t)], s[static_cast<std::size_t>(t)]);
        EXPECT_EQ(c.targets[at(c, b, t)], s[static_cast<std::size_t>(t + 1)]);
      } else {
        EXPECT_EQ(c.inputs[at(c, b, t)], lang::Vocabulary::pad) << "padding only ends a row";
        EXPECT_EQ(c.targets[at(c, b, t)], ignore_target) << "padding is never predicted";
      }
    }
  }
}

TEST(CausalBatch, ASeedFixesTheBatch) {
  std::mt19937_64 a(11), b(11), other(12);
  const CausalBatch x = sample_causal_batch(grammar(), 4, 30, a);
  EXPECT_EQ(x.inputs, sample_causal_batch(grammar(), 4, 30, b).inputs);
  EXPECT_NE(x.inputs, sample_causal_batch(grammar(), 4, 30, other).inputs);
}

TEST(CausalBatch, RejectsRowsTooShortForASentence) {
  std::mt19937_64 rng(0);
  EXPECT_THROW(sample_causal_batch(grammar(), 1, grammar().max_length(), rng), Error);
  EXPECT_NO_THROW(sample_causal_batch(grammar(), 1, grammar().max_length() + 1, rng));
  EXPECT_THROW(sample_causal_batch(grammar(), 0, 20, rng), Error);
}

TEST(CausalEvalBatch, PacksEverySentenceInOrderDeterministically) {
  const CausalBatch c = causal_eval_batch(grammar(), 50, 24, 7);
  const std::int64_t eos = end_of_sentence_id(grammar());
  Index sentences = 0;
  for (const std::vector<std::int64_t>& s : c.streams) {
    EXPECT_EQ(s.front(), eos);
    sentences += std::count(s.begin() + 1, s.end(), eos);
  }
  EXPECT_EQ(sentences, 50);
  EXPECT_EQ(c.inputs, causal_eval_batch(grammar(), 50, 24, 7).inputs);
  EXPECT_THROW(causal_eval_batch(grammar(), 0, 24, 7), Error);
}

}  // namespace
}  // namespace mha::train
