// WordPiece tokenizer: the conformance vectors of formats.md §3 (HF's
// tests/models/bert/test_tokenization_bert.py) first, then the edges of each step.
#include "mha/io/wordpiece.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/wordpiece_unicode.hpp"

namespace mha {
namespace {

using Tokens = std::vector<std::string>;

// The vocabulary of HF's BERT tokenizer tests: "[UNK]"=0 … ","=12.
const char* const kTestVocab =
    "[UNK]\n[CLS]\n[SEP]\n[PAD]\n[MASK]\nwant\n##want\n##ed\nwa\nun\nrunn\n##ing\n,\nlow\nlowest\n";

WordPieceTokenizer make_tokenizer(WordPieceOptions options = {}) {
  return WordPieceTokenizer(Vocab::parse(kTestVocab), std::move(options));
}

Tokens basic(std::string_view text, WordPieceOptions options = {}) {
  return make_tokenizer(std::move(options)).basic_tokenize(text);
}

// --- Conformance vectors -------------------------------------------------------------------

TEST(WordPieceConformance, BasicLower) {
  EXPECT_EQ(basic(" \tHeLLo!how  \n Are yoU?  "), (Tokens{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic("H\u00E9llo"), (Tokens{"hello"}));
}

TEST(WordPieceConformance, ChineseCharacters) {
  EXPECT_EQ(basic("ah\u535A\u63A8zz"), (Tokens{"ah", "\u535A", "\u63A8", "zz"}));
}

TEST(WordPieceConformance, SplitsOnPunctuation) {
  EXPECT_EQ(basic("a\n'll !!to?'d of, can't."), (Tokens{"a", "'", "ll", "!", "!", "to", "?", "'",
                                                        "d", "of", ",", "can", "'", "t", "."}));
}

TEST(WordPieceConformance, WordPieces) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  EXPECT_EQ(tokenizer.tokenize(""), Tokens{});
  EXPECT_EQ(tokenizer.tokenize("unwanted running"),
            (Tokens{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(tokenizer.tokenize("unwantedX running"), (Tokens{"[UNK]", "runn", "##ing"}));
}

TEST(WordPieceConformance, FullTokenizer) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  EXPECT_EQ(tokenizer.tokenize("UNwant\u00E9d,running"),
            (Tokens{"un", "##want", "##ed", ",", "runn", "##ing"}));
  const WordPieceTokenizer::Encoding encoding = tokenizer.encode("UNwant\u00E9d,running");
  EXPECT_EQ(encoding.ids, (std::vector<std::int64_t>{1, 9, 6, 7, 12, 10, 11, 2}));
}

// HF test_clean_text: the soft hyphen U+00AD (Cf) is removed, leaving no token at all.
TEST(WordPieceConformance, CleanText) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  EXPECT_EQ(tokenizer.tokenize("Test"), (Tokens{"[UNK]"}));
  EXPECT_EQ(tokenizer.tokenize("\u00AD"), Tokens{});
  EXPECT_EQ(tokenizer.tokenize("test"), (Tokens{"[UNK]"}));
}

// --- Accents and case (HF's strip_accents matrix) -------------------------------------------

TEST(WordPieceAccents, LowerFollowsDoLowerCase) {
  EXPECT_EQ(basic(" \tH\u00E4LLo!how  \n Are yoU?  "),
            (Tokens{"hallo", "!", "how", "are", "you", "?"}));
}

TEST(WordPieceAccents, LowerWithoutStripping) {
  const WordPieceOptions options{.strip_accents = false};
  EXPECT_EQ(basic(" \tH\u00E4LLo!how  \n Are yoU?  ", options),
            (Tokens{"h\u00E4llo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic("H\u00E9llo", options), (Tokens{"h\u00E9llo"}));
}

TEST(WordPieceAccents, StripWithoutLowering) {
  const WordPieceOptions options{.do_lower_case = false, .strip_accents = true};
  EXPECT_EQ(basic(" \tH\u00E4LLo!how  \n Are yoU?  ", options),
            (Tokens{"HaLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(WordPieceAccents, NeitherLowerNorStrip) {
  const WordPieceOptions options{.do_lower_case = false};
  EXPECT_EQ(basic(" \tHeLLo!how  \n Are yoU?  ", options),
            (Tokens{"HeLLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(basic(" \tH\u00E4LLo!how  \n Are yoU?  ", options),
            (Tokens{"H\u00E4LLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(WordPieceAccents, NfcJoinsCombiningSequences) {
  // e + COMBINING ACUTE becomes the precomposed é before anything else looks at it.
  const WordPieceOptions keep{.do_lower_case = false};
  EXPECT_EQ(basic("caf"
                  "e\u0301",
                  keep),
            (Tokens{"caf\u00E9"}));
  EXPECT_EQ(basic("CAF"
                  "E\u0301"),
            (Tokens{"cafe"}));
}

TEST(WordPieceAccents, FullLowercase) {
  // Python: "İ".lower() == "i\u0307"; stripping the dot leaves "i".
  EXPECT_EQ(basic("\u0130stanbul"), (Tokens{"istanbul"}));
  EXPECT_EQ(basic("\u0130stanbul", {.strip_accents = false}), (Tokens{"i\u0307stanbul"}));
  // Titlecase and fullwidth letters lowercase too; Σ always becomes σ (see wordpiece.hpp).
  EXPECT_EQ(basic("\u01C5 \uFF21 \u039F\u0394\u039F\u03A3"),
            (Tokens{"\u01C6", "\uFF41", "\u03BF\u03B4\u03BF\u03C3"}));
}

TEST(WordPieceAccents, HangulDecomposesWhenStripping) {
  // NFD splits a Hangul syllable into conjoining jamo (Lo, not Mn), so nothing is dropped.
  EXPECT_EQ(basic("\uD55C"), (Tokens{"\u1112\u1161\u11AB"}));
  EXPECT_EQ(basic("\uD55C", {.strip_accents = false}), (Tokens{"\uD55C"}));
}

// --- Cleaning, whitespace, CJK, punctuation --------------------------------------------------

TEST(WordPieceBasic, SoftHyphenIsRemovedInsideAWord) {
  EXPECT_EQ(basic("ex\u00ADample"), (Tokens{"example"}));
}

TEST(WordPieceBasic, ControlAndReplacementCharactersAreDropped) {
  EXPECT_EQ(basic(std::string("a\0b", 3)), (Tokens{"ab"}));
  EXPECT_EQ(basic("a\x05"
                  "b\uFFFD"
                  "c\u200Bd\uE000e"),
            (Tokens{"abcde"}));
}

TEST(WordPieceBasic, NoBreakSpaceAndOtherSpacesSeparateWords) {
  EXPECT_EQ(basic("a\u00A0b"), (Tokens{"a", "b"}));
  EXPECT_EQ(basic("a\u3000b\u2003c"), (Tokens{"a", "b", "c"}));
  // U+2028 (Zl) survives cleaning but Python's str.split() still splits on it.
  EXPECT_EQ(basic("a\u2028b"), (Tokens{"a", "b"}));
}

TEST(WordPieceBasic, ChineseSpacingCanBeTurnedOff) {
  EXPECT_EQ(basic("ah\u535A\u63A8zz", {.tokenize_chinese_chars = false}),
            (Tokens{"ah\u535A\u63A8zz"}));
  // Hangul and kana are not in the CJK ranges.
  EXPECT_EQ(basic("a\u3042b"), (Tokens{"a\u3042b"}));
  // A CJK compatibility ideograph is spaced out, then NFC maps it to its unified twin.
  EXPECT_EQ(basic("x\uF900y"), (Tokens{"x", "\u8C48", "y"}));
  EXPECT_EQ(basic("\U00020000\U0002B820"), (Tokens{"\U00020000", "\U0002B820"}));
}

TEST(WordPieceBasic, AsciiSymbolsCountAsPunctuation) {
  EXPECT_EQ(basic("a$b^c`d+e<f=g>h|i~j"), (Tokens{"a", "$", "b", "^", "c", "`", "d", "+", "e", "<",
                                                  "f", "=", "g", ">", "h", "|", "i", "~", "j"}));
  // Unicode punctuation (P*) splits; a Unicode symbol (S*) such as € does not.
  EXPECT_EQ(basic("a\u2014b\u00BFc\u20ACd"), (Tokens{"a", "\u2014", "b", "\u00BF", "c\u20ACd"}));
}

TEST(WordPieceBasic, NeverSplitTokensStayWhole) {
  EXPECT_EQ(basic(" \tHeLLo!how  \n Are yoU? [UNK]", {.do_lower_case = false}),
            (Tokens{"HeLLo", "!", "how", "Are", "yoU", "?", "[UNK]"}));
  EXPECT_EQ(basic("[CLS] x [SEP]"), (Tokens{"[CLS]", "x", "[SEP]"}));
  // Lowercase look-alikes are ordinary text.
  EXPECT_EQ(basic("[cls]"), (Tokens{"[", "cls", "]"}));
}

TEST(WordPieceBasic, EmptyAndBlankInput) {
  EXPECT_EQ(basic(""), Tokens{});
  EXPECT_EQ(basic(" \t\n\r\u00A0\u00AD"), Tokens{});
}

// --- Invalid UTF-8 --------------------------------------------------------------------------

TEST(WordPieceUtf8, InvalidBytesAreDropped) {
  using wordpiece::decode_utf8_lossy;
  EXPECT_EQ(decode_utf8_lossy("hel\xFFlo"), U"hello");
  EXPECT_EQ(decode_utf8_lossy("\xC0\xAF"
                              "a"),
            U"a");  // overlong '/'
  EXPECT_EQ(decode_utf8_lossy("\xED\xA0\x80"
                              "b"),
            U"b");  // UTF-16 surrogate
  EXPECT_EQ(decode_utf8_lossy("\xF4\x90\x80\x80"
                              "c"),
            U"c");  // above U+10FFFF
  EXPECT_EQ(decode_utf8_lossy("\xE2\x82"
                              "A"),
            U"A");                                  // truncated, resumes at 'A'
  EXPECT_EQ(decode_utf8_lossy("d\xE2\x82"), U"d");  // truncated at the end
  EXPECT_EQ(decode_utf8_lossy("\x80\xBF"
                              "e"),
            U"e");  // stray continuation bytes
  EXPECT_EQ(decode_utf8_lossy("\xE2\x82\xAC\xF0\x9F\x98\x80"), U"\u20AC\U0001F600");
}

TEST(WordPieceUtf8, TokenizerNeverFailsOnInvalidBytes) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  EXPECT_EQ(tokenizer.tokenize("un\xFFwant\xC3"
                               "ed"),
            (Tokens{"un", "##want", "##ed"}));
  EXPECT_EQ(tokenizer.tokenize("\xFF\xFE\xC3"), Tokens{});
}

// --- WordPiece ------------------------------------------------------------------------------

TEST(WordPieceGreedy, HundredCodePointLimit) {
  const WordPieceTokenizer tokenizer(Vocab::parse("[UNK]\n\u00E9\n##\u00E9\n"),
                                     {.do_lower_case = false});
  std::string word;
  for (int i = 0; i < 100; ++i) word += "\u00E9";  // 100 code points, 200 bytes
  const Tokens pieces = tokenizer.tokenize(word);
  ASSERT_EQ(pieces.size(), 100u);
  EXPECT_EQ(pieces.front(), "\u00E9");
  EXPECT_EQ(pieces.back(), "##\u00E9");
  EXPECT_EQ(tokenizer.tokenize(word + "\u00E9"), (Tokens{"[UNK]"}));
  EXPECT_EQ(tokenizer.tokenize(word + "\u00E9 \u00E9"), (Tokens{"[UNK]", "\u00E9"}));
}

TEST(WordPieceGreedy, LongestMatchFirstAndWholeWordUnknown) {
  const WordPieceTokenizer tokenizer(Vocab::parse("[UNK]\nlow\nlowest\n##est\n##e\n"));
  EXPECT_EQ(tokenizer.tokenize("lowest"), (Tokens{"lowest"}));
  EXPECT_EQ(tokenizer.tokenize("lowe"), (Tokens{"low", "##e"}));
  // "low" + "##es"? no piece → the whole word, not a partial split, becomes [UNK].
  EXPECT_EQ(tokenizer.tokenize("lowes"), (Tokens{"[UNK]"}));
}

TEST(WordPieceTokenize, SpecialTokensAreCutOutOfWords) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  EXPECT_EQ(tokenizer.tokenize("want[SEP]running"), (Tokens{"want", "[SEP]", "runn", "##ing"}));
  EXPECT_EQ(tokenizer.tokenize("[MASK]."), (Tokens{"[MASK]", "[UNK]"}));
  EXPECT_EQ(tokenizer.tokenize("[mask]"), (Tokens{"[UNK]", "[UNK]", "[UNK]"}));
}

// --- encode ---------------------------------------------------------------------------------

TEST(WordPieceEncode, SingleAndPair) {
  const WordPieceTokenizer tokenizer = make_tokenizer();
  const auto single = tokenizer.encode("want");
  EXPECT_EQ(single.tokens, (Tokens{"[CLS]", "want", "[SEP]"}));
  EXPECT_EQ(single.ids, (std::vector<std::int64_t>{1, 5, 2}));
  EXPECT_EQ(single.token_type_ids, (std::vector<std::int64_t>{0, 0, 0}));

  const auto pair = tokenizer.encode("unwanted", "low, running?");
  EXPECT_EQ(pair.tokens, (Tokens{"[CLS]", "un", "##want", "##ed", "[SEP]", "low", ",", "runn",
                                 "##ing", "[UNK]", "[SEP]"}));
  EXPECT_EQ(pair.ids, (std::vector<std::int64_t>{1, 9, 6, 7, 2, 13, 12, 10, 11, 0, 2}));
  EXPECT_EQ(pair.token_type_ids, (std::vector<std::int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}));

  const auto empty = tokenizer.encode("", "");
  EXPECT_EQ(empty.tokens, (Tokens{"[CLS]", "[SEP]", "[SEP]"}));
  EXPECT_EQ(empty.token_type_ids, (std::vector<std::int64_t>{0, 0, 1}));
}

TEST(WordPieceEncode, MissingSpecialTokenIsNamed) {
  const WordPieceTokenizer no_cls(Vocab::parse("[UNK]\n[SEP]\nwant\n"));
  try {
    (void)no_cls.encode("want");
    FAIL() << "expected mha::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("[CLS]"), std::string::npos) << error.what();
  }
  const WordPieceTokenizer no_unk(Vocab::parse("[CLS]\n[SEP]\nwant\n"));
  EXPECT_THROW((void)no_unk.encode("want"), Error);
}

// --- Vocab ----------------------------------------------------------------------------------

TEST(WordPieceVocab, IdsAreLineNumbers) {
  const Vocab vocab = Vocab::parse("a\r\nb\rc\n \n\nd");
  ASSERT_EQ(vocab.size(), 6u);
  EXPECT_EQ(vocab.id("a"), 0);
  EXPECT_EQ(vocab.id("b"), 1);
  EXPECT_EQ(vocab.id("c"), 2);
  EXPECT_EQ(vocab.id(" "), 3);  // only the newline is stripped
  EXPECT_EQ(vocab.id(""), 4);
  EXPECT_EQ(vocab.id("d"), 5);
  EXPECT_EQ(vocab.id("e"), std::nullopt);
  EXPECT_EQ(vocab.token(5), "d");
  EXPECT_THROW((void)vocab.token(6), Error);
  EXPECT_THROW((void)vocab.token(-1), Error);
}

TEST(WordPieceVocab, DuplicateTokenTakesTheLastId) {
  const Vocab vocab = Vocab::parse("x\ny\nx\n");
  EXPECT_EQ(vocab.size(), 3u);
  EXPECT_EQ(vocab.id("x"), 2);
  EXPECT_EQ(vocab.token(0), "x");
}

TEST(WordPieceVocab, Errors) {
  EXPECT_THROW((void)Vocab::parse(""), Error);
  EXPECT_THROW((void)Vocab::parse("ok\nbad\xFF\n"), Error);
  const std::filesystem::path missing =
      std::filesystem::path(MHA_BINARY_DIR) / "wordpiece_test_missing" / "vocab.txt";
  try {
    (void)Vocab::load(missing);
    FAIL() << "expected mha::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
  }
}

// --- from_folder ----------------------------------------------------------------------------

class WordPieceFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs the tests of this fixture as parallel processes.
    dir_ = std::filesystem::path(MHA_BINARY_DIR) /
           (std::string("wordpiece_test_folder_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    write("vocab.txt", kTestVocab);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const char* name, std::string_view text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(WordPieceFolder, DefaultsWithoutConfig) {
  const auto tokenizer = WordPieceTokenizer::from_folder(dir_);
  EXPECT_EQ(tokenizer.vocab().size(), 15u);
  EXPECT_TRUE(tokenizer.options().do_lower_case);
  EXPECT_EQ(tokenizer.tokenize("UNwanted"), (Tokens{"un", "##want", "##ed"}));
}

TEST_F(WordPieceFolder, ConfigTurnsLowercasingOff) {
  write("tokenizer_config.json",
        R"({"do_lower_case": false, "strip_accents": null, "model_max_length": 512})");
  const auto tokenizer = WordPieceTokenizer::from_folder(dir_);
  EXPECT_FALSE(tokenizer.options().do_lower_case);
  EXPECT_FALSE(tokenizer.options().strip_accents.has_value());
  EXPECT_EQ(tokenizer.tokenize("UNwanted"), (Tokens{"[UNK]"}));
}

TEST_F(WordPieceFolder, ConfigErrors) {
  write("tokenizer_config.json", R"({"do_lower_case": "yes"})");
  EXPECT_THROW((void)WordPieceTokenizer::from_folder(dir_), Error);
  write("tokenizer_config.json", "{not json");
  EXPECT_THROW((void)WordPieceTokenizer::from_folder(dir_), Error);
  std::filesystem::remove(dir_ / "tokenizer_config.json");
  std::filesystem::remove(dir_ / "vocab.txt");
  EXPECT_THROW((void)WordPieceTokenizer::from_folder(dir_), Error);
}

TEST(WordPieceUnicode, VersionIsReported) {
  const std::string_view version = WordPieceTokenizer::unicode_version();
  ASSERT_FALSE(version.empty());
  EXPECT_TRUE(version.front() >= '1' && version.front() <= '9') << version;
}

}  // namespace
}  // namespace mha
