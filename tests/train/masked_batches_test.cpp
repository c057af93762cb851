// Masked batches and the evaluation set: layout, masking statistics, determinism.
#include "mha/train/masked_batches.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::train {
namespace {

const lang::AttachmentGrammar& grammar() {
  static const lang::AttachmentGrammar g;
  return g;
}

std::size_t at(const MaskedBatch& m, std::size_t b, std::size_t t) {
  return b * static_cast<std::size_t>(m.length) + t;
}

TEST(MaskedBatch, ShapesPaddingAndTargets) {
  std::mt19937_64 rng(5);
  const MaskedBatch m = sample_masked_batch(grammar(), 64, rng);
  ASSERT_EQ(m.batch, 64);
  ASSERT_EQ(m.sentences.size(), 64U);
  std::size_t longest = 0;
  for (const lang::Sentence& s : m.sentences) longest = std::max(longest, s.ids.size());
  ASSERT_EQ(m.length, static_cast<Index>(longest));
  const auto cells = static_cast<std::size_t>(m.batch * m.length);
  ASSERT_EQ(m.inputs.size(), cells);
  ASSERT_EQ(m.targets.size(), cells);
  ASSERT_EQ(m.padding.size(), cells);
  for (std::size_t b = 0; b < m.sentences.size(); ++b) {
    const lang::Sentence& s = m.sentences[b];
    int masks = 0;
    for (std::size_t t = 0; t < static_cast<std::size_t>(m.length); ++t) {
      const std::size_t i = at(m, b, t);
      if (t >= s.ids.size()) {
        EXPECT_EQ(m.padding[i], 1) << b << "," << t;
        EXPECT_EQ(m.inputs[i], lang::Vocabulary::pad) << b << "," << t;
        EXPECT_EQ(m.targets[i], ignore_target) << b << "," << t;
        continue;
      }
      EXPECT_EQ(m.padding[i], 0) << b << "," << t;
      if (m.inputs[i] == lang::Vocabulary::mask) {
        ++masks;
        EXPECT_EQ(m.targets[i], s.ids[t]) << b << "," << t;
      } else {
        EXPECT_EQ(m.inputs[i], s.ids[t]) << b << "," << t;
        EXPECT_EQ(m.targets[i], ignore_target) << b << "," << t;
      }
    }
    EXPECT_GE(masks, 1) << "sentence " << b;
  }
}

TEST(MaskedBatch, MaskFractionMatchesItsExpectation) {
  // Each token is masked with p, and a sentence with no mask gets one: E[masks] = p·L + (1−p)^L.
  std::mt19937_64 rng(9);
  const double p = 0.15;
  double masks = 0, expected = 0, tokens = 0;
  for (int round = 0; round < 40; ++round) {
    const MaskedBatch m = sample_masked_batch(grammar(), 100, rng, p);
    for (const lang::Sentence& s : m.sentences) {
      const auto length = static_cast<double>(s.ids.size());
      expected += p * length + std::pow(1 - p, length);
      tokens += length;
    }
    masks += static_cast<double>(std::count(m.inputs.begin(), m.inputs.end(), lang::Vocabulary::mask));
  }
  EXPECT_NEAR(masks / tokens, expected / tokens, 0.01);
  EXPECT_GT(masks / tokens, 0.15);  // the one-mask floor only adds
  EXPECT_LT(masks / tokens, 0.22);
  // Without the floor mattering (p = 1) every real token is masked.
  const MaskedBatch all = sample_masked_batch(grammar(), 8, rng, 1.0);
  EXPECT_EQ(std::count(all.padding.begin(), all.padding.end(), 0),
            std::count(all.inputs.begin(), all.inputs.end(), lang::Vocabulary::mask));
}

TEST(MaskedBatch, DeterministicPerSeedAndChecksArguments) {
  std::mt19937_64 a(1), b(1), c(2);
  EXPECT_EQ(sample_masked_batch(grammar(), 16, a).inputs,
            sample_masked_batch(grammar(), 16, b).inputs);
  EXPECT_NE(sample_masked_batch(grammar(), 16, a).inputs,
            sample_masked_batch(grammar(), 16, c).inputs);
  EXPECT_THROW(sample_masked_batch(grammar(), 0, a), Error);
  EXPECT_THROW(sample_masked_batch(grammar(), 4, a, 1.5), Error);
  EXPECT_THROW(sample_masked_batch(grammar(), 4, a, std::nan("")), Error);
}

TEST(EvalSet, DeterministicForASeed) {
  const auto one = make_eval_set(grammar(), 60, 42);
  const auto two = make_eval_set(grammar(), 60, 42);
  const auto other = make_eval_set(grammar(), 60, 43);
  ASSERT_EQ(one.size(), 60U);
  bool differs = false;
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].sentence.ids, two[i].sentence.ids) << i;
    EXPECT_EQ(one[i].position, two[i].position) << i;
    differs = differs || one[i].sentence.ids != other[i].sentence.ids ||
              one[i].position != other[i].position;
  }
  EXPECT_TRUE(differs);
}

TEST(EvalSet, ExamplesAreConsistent) {
  const auto examples = make_eval_set(grammar(), 300, 7);
  int two_relations = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const EvalExample& e = examples[i];
    const auto t = static_cast<std::size_t>(e.position);
    ASSERT_LT(t, e.sentence.ids.size()) << i;
    EXPECT_EQ(e.target, e.sentence.ids[t]) << i;
    EXPECT_TRUE(std::binary_search(e.allowed.begin(), e.allowed.end(), e.target)) << i;
    EXPECT_EQ(e.allowed, grammar().allowed_at(e.sentence.ids, e.position)) << i;
    EXPECT_EQ(e.two_relations, e.sentence.roles[t] == lang::Role::pp_noun) << i;
    EXPECT_NE(e.sentence.roles[t], lang::Role::determiner) << i;
    EXPECT_NE(e.sentence.roles[t], lang::Role::preposition) << i;
    two_relations += e.two_relations ? 1 : 0;
  }
  EXPECT_NEAR(two_relations / 300.0, 1.0 / 3.0, 0.02);
}

TEST(EvalSet, PacksIntoOneBatchWithOneTargetPerRow) {
  const auto examples = make_eval_set(grammar(), 10, 3);
  const MaskedBatch m = eval_batch(examples);
  ASSERT_EQ(m.batch, 10);
  for (std::size_t b = 0; b < examples.size(); ++b) {
    const EvalExample& e = examples[b];
    for (std::size_t t = 0; t < static_cast<std::size_t>(m.length); ++t) {
      const std::size_t i = at(m, b, t);
      const bool masked = t == static_cast<std::size_t>(e.position);
      EXPECT_EQ(m.targets[i], masked ? e.target : ignore_target) << b << "," << t;
      EXPECT_EQ(m.inputs[i] == lang::Vocabulary::mask, masked) << b << "," << t;
      EXPECT_EQ(m.padding[i], t >= e.sentence.ids.size() ? 1 : 0) << b << "," << t;
    }
  }
  EXPECT_THROW(eval_batch({}), Error);
  auto bad = examples;
  bad[0].position = 9;
  EXPECT_THROW(eval_batch(bad), Error);
}

// make_eval_set of the standard language as it was before LanguageVariant existed (FNV-1a over
// ids, positions, allowed lists and two_relations).
TEST(EvalSet, StandardLanguageIsUnchanged) {
  std::uint64_t h = 1469598103934665603ull;
  const auto add = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (const EvalExample& e : make_eval_set(grammar(), 300, 7)) {
    for (const std::int64_t id : e.sentence.ids) add(static_cast<std::uint64_t>(id));
    add(static_cast<std::uint64_t>(e.position));
    for (const std::int64_t w : e.allowed) add(static_cast<std::uint64_t>(w));
    add(e.two_relations ? 1 : 0);
  }
  EXPECT_EQ(h, 0xbb9a1e63357f7dfbull);
}

// two_objects: the PP-noun examples allow instruments(verb) ∪ attributes(OBJ2) and never an
// attribute of the distractor OBJ1 alone; the distractor is a content position.
TEST(EvalSet, TwoObjectsPpNounsFollowTheNearestObject) {
  const lang::AttachmentGrammar g(lang::LanguageVariant::two_objects);
  const auto examples = make_eval_set(g, 150, 11);
  ASSERT_EQ(examples.size(), 150U);
  int two_relations = 0, distractors = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const EvalExample& e = examples[i];
    const auto t = static_cast<std::size_t>(e.position);
    EXPECT_EQ(e.allowed, g.allowed_at(e.sentence.ids, e.position)) << i;
    EXPECT_TRUE(std::binary_search(e.allowed.begin(), e.allowed.end(), e.target)) << i;
    EXPECT_NE(e.sentence.roles[t], lang::Role::conjunction) << i;
    distractors += e.sentence.roles[t] == lang::Role::distractor ? 1 : 0;
    if (!e.two_relations) continue;
    ++two_relations;
    ASSERT_EQ(t, 10U) << i;
    const std::string verb = g.vocabulary().word(e.sentence.ids[2]);
    const std::string first = g.vocabulary().word(e.sentence.ids[4]);
    const std::string second = g.vocabulary().word(e.sentence.ids[7]);
    std::vector<std::string> expected = g.instruments(verb);
    for (const std::string& w : g.attributes(second)) expected.push_back(w);
    std::vector<std::string> allowed;
    for (const std::int64_t w : e.allowed) allowed.push_back(g.vocabulary().word(w));
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    std::sort(allowed.begin(), allowed.end());
    EXPECT_EQ(allowed, expected) << i;
    for (const std::string& w : g.attributes(first)) {
      if (!std::binary_search(expected.begin(), expected.end(), w)) {
        EXPECT_FALSE(std::binary_search(e.allowed.begin(), e.allowed.end(), g.vocabulary().id(w))) << i;
      }
    }
  }
  EXPECT_EQ(two_relations, 50);
  EXPECT_GT(distractors, 0);
  const MaskedBatch m = eval_batch(examples);
  EXPECT_LE(m.length, g.max_length());
  std::mt19937_64 rng(2);
  EXPECT_LE(sample_masked_batch(g, 32, rng).length, 11);
}

}  // namespace
}  // namespace mha::train
