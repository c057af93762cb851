// Vocabulary: reserved ids, word ↔ id, text encoding and its error messages.
#include "mha/lang/vocabulary.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::lang {
namespace {

Vocabulary small() {
  const std::vector<std::string> words = {"the", "man", "saw", "a", "telescope"};
  return Vocabulary(words);
}

std::string message_of(const auto& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Vocabulary, SpecialsComeFirst) {
  const Vocabulary v = small();
  EXPECT_EQ(Vocabulary::pad, 0);
  EXPECT_EQ(Vocabulary::mask, 1);
  EXPECT_EQ(v.word(Vocabulary::pad), "[PAD]");
  EXPECT_EQ(v.word(Vocabulary::mask), "[MASK]");
  EXPECT_EQ(v.id("[MASK]"), Vocabulary::mask);
  EXPECT_EQ(v.size(), 7);
  EXPECT_EQ(v.id("the"), 2);
  EXPECT_EQ(v.id("telescope"), 6);
}

TEST(Vocabulary, EveryIdRoundTrips) {
  const Vocabulary v = small();
  ASSERT_EQ(static_cast<std::int64_t>(v.words().size()), v.size());
  for (std::int64_t i = 0; i < v.size(); ++i) EXPECT_EQ(v.id(v.word(i)), i) << i;
}

TEST(Vocabulary, EncodeLowercasesAndStripsPunctuation) {
  const Vocabulary v = small();
  const std::vector<std::int64_t> expected = {2, 3, 4, 2, 3, 5, 6};
  EXPECT_EQ(v.encode("The MAN saw, the man  a telescope."), expected);
  EXPECT_EQ(v.encode("  the man saw the man , a \"telescope\" . "), expected);
  EXPECT_EQ(v.decode(expected), "the man saw the man a telescope");
}

TEST(Vocabulary, EncodeKnowsTheSpecials) {
  const Vocabulary v = small();
  const std::vector<std::int64_t> expected = {2, Vocabulary::mask, Vocabulary::pad};
  EXPECT_EQ(v.encode("The [MASK] [pad]"), expected);
  EXPECT_EQ(v.encode("the [mask]."), (std::vector<std::int64_t>{2, Vocabulary::mask}));
}

TEST(Vocabulary, EncodeOfEmptyTextIsEmpty) {
  EXPECT_TRUE(small().encode("  . , ").empty());
}

TEST(Vocabulary, UnknownWordNamesTheWordAndTheArgument) {
  const Vocabulary v = small();
  EXPECT_EQ(message_of([&] { v.encode("the man saw a Spaceship", "--sentence"); }),
            "--sentence: expected a word of the vocabulary, got \"spaceship\"");
  EXPECT_EQ(message_of([&] { v.id("dog", "target"); }),
            "target: expected a word of the vocabulary, got \"dog\"");
}

TEST(Vocabulary, WordOfABadIdThrows) {
  const Vocabulary v = small();
  EXPECT_EQ(message_of([&] { v.word(7); }), "id: expected an id in [0, 7), got 7");
  EXPECT_THROW(v.word(-1), Error);
}

TEST(Vocabulary, RejectsBadWordLists) {
  const std::vector<std::vector<std::string>> bad = {
      {"the", "the"}, {""}, {"two words"}, {"The"}, {"[MASK]"}};
  for (const auto& words : bad) {
    EXPECT_THROW(Vocabulary{words}, Error) << (words.empty() ? "" : words[0]);
  }
}

}  // namespace
}  // namespace mha::lang
