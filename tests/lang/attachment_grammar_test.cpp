// AttachmentGrammar: the demo sentence, the recognizer, allowed_at, sampling and its frequencies.
#include "mha/lang/attachment_grammar.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::lang {
namespace {

const AttachmentGrammar& grammar() {
  static const AttachmentGrammar g;
  return g;
}

std::vector<std::int64_t> ids(const std::string& text) {
  return grammar().vocabulary().encode(text);
}

std::vector<std::string> allowed_words(const std::string& text, Index position) {
  std::vector<std::string> words;
  for (std::int64_t id : grammar().allowed_at(ids(text), position)) {
    words.push_back(grammar().vocabulary().word(id));
  }
  return words;
}

bool contains(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

TEST(AttachmentGrammar, DemoSentenceIsDerivableUnderBothReadings) {
  const auto analysis = grammar().analyze(ids("the man saw the astronaut with a telescope"));
  ASSERT_TRUE(analysis.has_value());
  EXPECT_TRUE(analysis->instrument_fits);
  EXPECT_TRUE(analysis->attribute_fits);
  EXPECT_TRUE(analysis->ambiguous());
  EXPECT_EQ(analysis->bank_sense, BankSense::none);
  ASSERT_EQ(analysis->roles.size(), 8U);
  EXPECT_EQ(analysis->roles[7], Role::pp_noun);
  EXPECT_EQ(analysis->roles[4], Role::object);
}

TEST(AttachmentGrammar, UnambiguousSentencesHaveOneReading) {
  const auto instrument = grammar().analyze(ids("the chef cut the bread with a knife"));
  ASSERT_TRUE(instrument.has_value());
  EXPECT_TRUE(instrument->instrument_fits);
  EXPECT_FALSE(instrument->attribute_fits);
  const auto attribute = grammar().analyze(ids("the boy saw the chef with a hat"));
  ASSERT_TRUE(attribute.has_value());
  EXPECT_FALSE(attribute->instrument_fits);
  EXPECT_TRUE(attribute->attribute_fits);
}

TEST(AttachmentGrammar, BothSensesOfBankAreSentences) {
  const auto river = grammar().analyze(ids("the girl sat on the river bank"));
  ASSERT_TRUE(river.has_value());
  EXPECT_EQ(river->bank_sense, BankSense::river);
  EXPECT_EQ(river->roles[5], Role::bank_context);
  const auto money = grammar().analyze(ids("the woman put money in the bank"));
  ASSERT_TRUE(money.has_value());
  EXPECT_EQ(money->bank_sense, BankSense::money);
  EXPECT_EQ(money->roles[3], Role::bank_context);
  EXPECT_TRUE(grammar().derivable(ids("the man took cash from the bank")));
  EXPECT_TRUE(grammar().derivable(ids("the boy fished from the river bank")));
  EXPECT_TRUE(grammar().derivable(ids("the man saw the astronaut")));
}

TEST(AttachmentGrammar, RejectsNonSentences) {
  for (const std::string text : {
           "the man saw the astronaut with a knife",  // knife: neither saw's nor astronaut's
           "the man cut the astronaut",               // cut takes things only
           "the bread saw the man",                   // things are not subjects
           "the man saw the astronaut with the telescope",
           "a man saw the astronaut",
           "the man saw the astronaut with a",
           "the man saw",
           "the woman put money on the bank",  // put … in
           "the girl sat on the money bank",
           "the girl sat on the bank",
           "the woman put money in the river bank",
           "",
       }) {
    EXPECT_FALSE(grammar().derivable(ids(text))) << text;
  }
  const std::int64_t mask = Vocabulary::mask;
  std::vector<std::int64_t> masked = ids("the man saw the astronaut with a telescope");
  masked[7] = mask;
  EXPECT_FALSE(grammar().derivable(masked));
  masked[7] = 999;  // not an id at all: rejected, not an error
  EXPECT_FALSE(grammar().derivable(masked));
}

TEST(AttachmentGrammar, AllowedAtThePpNounIsInstrumentsAndAttributes) {
  const auto words = allowed_words("the man saw the astronaut with a telescope", 7);
  EXPECT_TRUE(contains(words, "telescope"));
  EXPECT_TRUE(contains(words, "binoculars"));
  EXPECT_TRUE(contains(words, "camera"));
  EXPECT_TRUE(contains(words, "helmet"));
  EXPECT_FALSE(contains(words, "knife"));
  EXPECT_EQ(words.size(), 4U);  // instruments(saw) ∪ attributes(astronaut)
}

TEST(AttachmentGrammar, AllowedAtTheVerbFollowsObjectAndInstrument) {
  const auto words = allowed_words("the chef [MASK] the bread with a knife", 2);
  EXPECT_EQ(words, std::vector<std::string>{"cut"});
  const auto bank = allowed_words("the woman put money in the [MASK]", 6);
  EXPECT_EQ(bank, std::vector<std::string>{"bank"});
}

TEST(AttachmentGrammar, AllowedAtChecksThePosition) {
  try {
    grammar().allowed_at(ids("the man saw the astronaut"), 5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "position: expected an index in [0, 5), got 5");
  }
  EXPECT_THROW(grammar().allowed_at(ids("the man saw the astronaut"), -1), Error);
}

TEST(AttachmentGrammar, RelationTables) {
  EXPECT_EQ(grammar().instruments("cut"), (std::vector<std::string>{"knife", "scissors"}));
  EXPECT_TRUE(contains(grammar().attributes("astronaut"), "telescope"));
  EXPECT_TRUE(contains(grammar().attributes("chef"), "knife"));
  EXPECT_TRUE(contains(grammar().instruments("saw"), "telescope"));
  EXPECT_FALSE(contains(grammar().objects("cut"), "man"));
  EXPECT_THROW(grammar().instruments("astronaut"), Error);
  EXPECT_THROW(grammar().attributes("saw"), Error);
  // Every PP noun starts with a consonant, so its determiner is always "a".
  for (const std::string& verb : grammar().verbs()) {
    for (const std::string& object : grammar().objects(verb)) {
      for (const auto& list : {grammar().instruments(verb), grammar().attributes(object)}) {
        for (const std::string& w : list) {
          EXPECT_EQ(std::string("aeiou").find(w[0]), std::string::npos) << w;
        }
      }
    }
  }
}

TEST(AttachmentGrammar, SampledSentencesAreDerivableAndConsistent) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const Sentence s = grammar().sample(rng);
    const std::string text = grammar().vocabulary().decode(s.ids);
    ASSERT_LE(static_cast<Index>(s.ids.size()), grammar().max_length()) << text;
    const auto analysis = grammar().analyze(s.ids);
    ASSERT_TRUE(analysis.has_value()) << text;
    EXPECT_EQ(analysis->roles, s.roles) << text;
    EXPECT_EQ(analysis->bank_sense, s.bank_sense) << text;
    EXPECT_EQ(analysis->ambiguous(), s.ambiguous) << text;
    if (s.reading == Reading::instrument) {
      EXPECT_TRUE(analysis->instrument_fits) << text;
    }
    if (s.reading == Reading::attribute) {
      EXPECT_TRUE(analysis->attribute_fits) << text;
    }
    EXPECT_EQ(s.reading == Reading::none, s.ids.size() != 8U) << text;
  }
}

TEST(AttachmentGrammar, SamplingIsDeterministicPerSeed) {
  const auto draw = [](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::int64_t> all;
    for (int i = 0; i < 50; ++i) {
      const Sentence s = grammar().sample(rng);
      all.insert(all.end(), s.ids.begin(), s.ids.end());
    }
    return all;
  };
  EXPECT_EQ(draw(3), draw(3));
  EXPECT_NE(draw(3), draw(4));
}

TEST(AttachmentGrammar, FrequenciesMatchTheDocumentedProbabilities) {
  std::mt19937_64 rng(11);
  const int n = 5000;
  int bank = 0, river = 0, instrument = 0, attribute = 0, none = 0, ambiguous = 0;
  for (int i = 0; i < n; ++i) {
    const Sentence s = grammar().sample(rng);
    if (s.bank_sense != BankSense::none) {
      ++bank;
      river += s.bank_sense == BankSense::river ? 1 : 0;
      continue;
    }
    instrument += s.reading == Reading::instrument ? 1 : 0;
    attribute += s.reading == Reading::attribute ? 1 : 0;
    none += s.reading == Reading::none ? 1 : 0;
    ambiguous += s.ambiguous ? 1 : 0;
  }
  const double attachment = n - bank;
  EXPECT_NEAR(bank / double(n), AttachmentGrammar::bank_probability, 0.05);
  EXPECT_NEAR(river / double(bank), AttachmentGrammar::river_probability, 0.05);
  EXPECT_NEAR(instrument / attachment, AttachmentGrammar::instrument_probability, 0.05);
  EXPECT_NEAR(attribute / attachment, AttachmentGrammar::attribute_probability, 0.05);
  EXPECT_NEAR(none / attachment, AttachmentGrammar::no_pp_probability, 0.05);
  EXPECT_GT(river, 0);
  EXPECT_GT(bank - river, 0);
  EXPECT_GT(ambiguous, 0);  // the ambiguous sentences do come up in training data
}

}  // namespace
}  // namespace mha::lang
