// The grammatical next tokens of a stream: sentence starts, the relations the recognizer checks,
// <eos> exactly after a whole sentence, and nothing after a sentence outside the language.
#include "mha/train/next_token_grammar.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"
#include "mha/train/causal_batches.hpp"

namespace mha::train {
namespace {

const lang::AttachmentGrammar& grammar() {
  static const lang::AttachmentGrammar g;
  return g;
}

std::vector<std::int64_t> ids(const std::string& text) { return causal_vocabulary(grammar()).encode(text); }

TEST(AttachmentSentences, EnumeratesTheWholeLanguageOnce) {
  const auto all = grammar().sentences();
  const std::set<std::vector<std::int64_t>> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), all.size());
  for (const auto& s : all) ASSERT_TRUE(grammar().derivable(s));
  // Every sampled sentence is in the list.
  std::mt19937_64 rng(1);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(unique.contains(grammar().sample(rng).ids)) << i;
}

TEST(NextTokenGrammar, FollowsTheTemplates) {
  const NextTokenGrammar g(grammar());
  const std::int64_t eos = g.end_of_sentence();
  const std::vector<std::int64_t> s = ids("<eos> the man saw the astronaut with a telescope <eos> the");
  EXPECT_EQ(g.allowed(s, 0), ids("the")) << "a sentence starts with 'the'";
  // After "the man saw the astronaut": "with" or the end.
  std::vector<std::int64_t> after_object = ids("with");
  after_object.push_back(eos);
  EXPECT_EQ(g.allowed(s, 5), after_object);
  EXPECT_EQ(g.allowed(s, 8), std::vector<std::int64_t>{eos}) << "a PP noun ends the sentence";
  EXPECT_EQ(g.allowed(s, 9), ids("the"));
  // "saw … with a": the instruments of saw and the attributes of the astronaut.
  const std::vector<std::int64_t>& nouns = g.allowed(s, 7);
  for (const char* w : {"telescope", "binoculars", "camera", "helmet"})
    EXPECT_TRUE(std::binary_search(nouns.begin(), nouns.end(), ids(w)[0])) << w;
  EXPECT_FALSE(g.allows(s, 7, ids("knife")[0]));
  // Objects of "cut" are things only.
  const std::vector<std::int64_t> cut = ids("<eos> the chef cut the");
  EXPECT_TRUE(g.allows(cut, 4, ids("bread")[0]));
  EXPECT_FALSE(g.allows(cut, 4, ids("man")[0]));
}

TEST(NextTokenGrammar, NothingContinuesAnUngrammaticalSentence) {
  const NextTokenGrammar g(grammar());
  const std::vector<std::int64_t> s = ids("<eos> the bank");
  EXPECT_TRUE(g.allowed(s, 2).empty());
  EXPECT_THROW(g.allowed(s, 3), Error);
  EXPECT_THROW(g.allowed(s, -1), Error);
}

}  // namespace
}  // namespace mha::train
