// LanguageVariant: the standard language is bit for bit what it was before the variants existed,
// and two_objects ("the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN]") samples, recognizes and
// enumerates the same language.
#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"
#include "mha/lang/attachment_grammar.hpp"

namespace mha::lang {
namespace {

const AttachmentGrammar& standard() {
  static const AttachmentGrammar g;
  return g;
}

const AttachmentGrammar& two_objects() {
  static const AttachmentGrammar g(LanguageVariant::two_objects);
  return g;
}

// FNV-1a over 64-bit values: a fingerprint of ids, role names and sentence fields.
struct Fnv {
  std::uint64_t h = 1469598103934665603ull;
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  void add(std::string_view text) {
    for (const char c : text) add(static_cast<std::uint64_t>(static_cast<unsigned char>(c)));
    add(std::uint64_t{0});
  }
};

std::vector<std::string> words(const AttachmentGrammar& g, const std::vector<std::int64_t>& ids) {
  std::vector<std::string> out;
  for (const std::int64_t id : ids) out.push_back(g.vocabulary().word(id));
  return out;
}

std::vector<std::string> sorted_union(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

// The fingerprints were taken from the grammar before LanguageVariant was added (role names
// rather than role numbers: the new roles shift the enum values, not the names).
TEST(StandardLanguage, IsUnchanged) {
  const AttachmentGrammar& g = standard();
  EXPECT_EQ(g.variant(), LanguageVariant::standard);
  EXPECT_EQ(g.vocabulary().size(), 69);
  EXPECT_FALSE(g.vocabulary().contains("and"));
  EXPECT_EQ(g.max_length(), 8);
  Fnv vocabulary, enumeration, samples;
  for (const std::string& w : g.vocabulary().words()) vocabulary.add(w);
  const auto all = g.sentences();
  EXPECT_EQ(all.size(), 2556U);
  for (const auto& s : all) {
    for (const std::int64_t id : s) enumeration.add(static_cast<std::uint64_t>(id));
    enumeration.add(~std::uint64_t{0});
  }
  std::mt19937_64 rng(42);
  for (int n = 0; n < 1000; ++n) {
    const Sentence s = g.sample(rng);
    for (const std::int64_t id : s.ids) samples.add(static_cast<std::uint64_t>(id));
    for (const Role r : s.roles) samples.add(name(r));
    samples.add(static_cast<std::uint64_t>(s.reading));
    samples.add(static_cast<std::uint64_t>(s.ambiguous));
    samples.add(static_cast<std::uint64_t>(s.bank_sense));
  }
  EXPECT_EQ(vocabulary.h, 0x431d21de1129d312ull);
  EXPECT_EQ(enumeration.h, 0xa0602be979b4958bull);
  EXPECT_EQ(samples.h, 0x42c6d1f81ba10f0dull);
  // The two-object template is not a standard sentence ("and" is not even a word).
  EXPECT_THROW(g.vocabulary().encode("the man saw the chef and the astronaut"), Error);
}

TEST(LanguageVariant, NamesRoundTrip) {
  for (const LanguageVariant v : {LanguageVariant::standard, LanguageVariant::two_objects})
    EXPECT_EQ(parse_language_variant(name(v)), v);
  EXPECT_EQ(name(LanguageVariant::two_objects), "two-objects");
  try {
    parse_language_variant("three-objects", "--language");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--language"), std::string::npos) << e.what();
  }
}

TEST(TwoObjects, VocabularyAppendsAnd) {
  const Vocabulary& v = two_objects().vocabulary();
  ASSERT_EQ(v.size(), 70);
  EXPECT_EQ(v.word(69), "and");
  // Every standard word keeps its id.
  for (std::int64_t id = 0; id < standard().vocabulary().size(); ++id)
    EXPECT_EQ(v.word(id), standard().vocabulary().word(id));
  EXPECT_EQ(two_objects().max_length(), 11);
}

TEST(TwoObjects, RecognizesTheTemplate) {
  const AttachmentGrammar& g = two_objects();
  const auto ids = [&](const std::string& text) { return g.vocabulary().encode(text); };
  const auto a = g.analyze(ids("the man saw the chef and the astronaut with a helmet"));
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->instrument_fits);
  EXPECT_TRUE(a->attribute_fits);
  const std::vector<Role> roles = {Role::determiner, Role::subject,     Role::verb,
                                   Role::determiner, Role::distractor,  Role::conjunction,
                                   Role::determiner, Role::object,      Role::preposition,
                                   Role::determiner, Role::pp_noun};
  EXPECT_EQ(a->roles, roles);
  EXPECT_TRUE(g.derivable(ids("the man saw the chef and the astronaut")));
  EXPECT_TRUE(g.analyze(ids("the man saw the chef and the astronaut with a telescope"))->ambiguous());
  // The distractor's attributes do not license the PP noun: hat belongs to the chef only.
  EXPECT_FALSE(g.derivable(ids("the man saw the chef and the astronaut with a hat")));
  EXPECT_TRUE(g.derivable(ids("the man saw the astronaut and the chef with a hat")));
  // The same object twice, a non-object, a missing "and", a one-object sentence: not sentences.
  EXPECT_FALSE(g.derivable(ids("the man saw the chef and the chef")));
  EXPECT_FALSE(g.derivable(ids("the man saw the bread and the chef")));
  EXPECT_FALSE(g.derivable(ids("the man saw the chef the the astronaut")));
  EXPECT_FALSE(g.derivable(ids("the man saw the astronaut with a telescope")));
  EXPECT_FALSE(g.derivable(ids("the man saw the astronaut")));
  // Bank sentences are unchanged.
  EXPECT_TRUE(g.derivable(ids("the girl sat on the river bank")));
  EXPECT_TRUE(g.derivable(ids("the woman put money in the bank")));
}

TEST(TwoObjects, SampledSentencesFollowTheRule) {
  const AttachmentGrammar& g = two_objects();
  std::mt19937_64 rng(7);
  int attachment = 0, with_pp = 0;
  for (int n = 0; n < 2000; ++n) {
    const Sentence s = g.sample(rng);
    ASSERT_LE(static_cast<Index>(s.ids.size()), g.max_length());
    ASSERT_EQ(s.roles.size(), s.ids.size());
    const auto analysis = g.analyze(s.ids);
    ASSERT_TRUE(analysis.has_value()) << g.vocabulary().decode(s.ids);
    EXPECT_EQ(analysis->roles, s.roles);
    if (s.bank_sense != BankSense::none) continue;
    ++attachment;
    ASSERT_GE(s.ids.size(), 8U);
    const std::string verb = g.vocabulary().word(s.ids[2]), first = g.vocabulary().word(s.ids[4]),
                      second = g.vocabulary().word(s.ids[7]);
    EXPECT_NE(first, second);
    EXPECT_EQ(s.roles[4], Role::distractor);
    EXPECT_EQ(s.roles[7], Role::object);
    if (s.ids.size() == 8) continue;
    ++with_pp;
    const std::string pp = g.vocabulary().word(s.ids[10]);
    const std::vector<std::string> allowed = sorted_union(g.instruments(verb), g.attributes(second));
    EXPECT_EQ(sorted_union(words(g, g.allowed_at(s.ids, 10)), {}), allowed)
        << g.vocabulary().decode(s.ids);
    EXPECT_TRUE(std::binary_search(allowed.begin(), allowed.end(), pp));
    EXPECT_EQ(s.ambiguous, analysis->ambiguous());
    // An attribute of OBJ1 only is never allowed.
    for (const std::string& w : g.attributes(first))
      if (!std::binary_search(allowed.begin(), allowed.end(), w)) {
        std::vector<std::int64_t> wrong = s.ids;
        wrong[10] = g.vocabulary().id(w);
        EXPECT_FALSE(g.derivable(wrong)) << g.vocabulary().decode(wrong);
      }
  }
  // 0.8 attachment, of which 0.9 with a PP.
  EXPECT_NEAR(attachment / 2000.0, 0.8, 0.03);
  EXPECT_NEAR(with_pp / static_cast<double>(attachment), 0.9, 0.03);
}

TEST(TwoObjects, SentencesEnumerateTheLanguage) {
  const AttachmentGrammar& g = two_objects();
  const auto all = g.sentences();
  EXPECT_EQ(all.size(), 20835U);
  const std::set<std::vector<std::int64_t>> language(all.begin(), all.end());
  EXPECT_EQ(language.size(), all.size());  // no duplicates
  Index longest = 0;
  for (const auto& s : all) {
    ASSERT_TRUE(g.derivable(s)) << g.vocabulary().decode(s);
    longest = std::max(longest, static_cast<Index>(s.size()));
  }
  EXPECT_EQ(longest, g.max_length());
  // Closed under one-word changes: every derivable neighbour of a sample is enumerated.
  std::mt19937_64 rng(3);
  for (int n = 0; n < 100; ++n) {
    const Sentence s = g.sample(rng);
    EXPECT_TRUE(language.count(s.ids));
    for (Index t = 0; t < static_cast<Index>(s.ids.size()); ++t)
      for (const std::int64_t w : g.allowed_at(s.ids, t)) {
        std::vector<std::int64_t> neighbour = s.ids;
        neighbour[static_cast<std::size_t>(t)] = w;
        EXPECT_TRUE(language.count(neighbour)) << g.vocabulary().decode(neighbour);
      }
  }
}

}  // namespace
}  // namespace mha::lang
