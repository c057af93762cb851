// libFuzzer target: arbitrary bytes as text for the WordPiece tokenizer (every step: invalid
// UTF-8, cleaning, CJK spacing, NFC/NFD, lowercasing, punctuation, special tokens, WordPiece).
// The input's first byte picks the options (lowercasing, accent stripping, CJK spacing, the
// word-length limit) and which entry point runs: encode of one text, encode of a pair (the text
// cut in two at its middle byte, so cuts inside a UTF-8 sequence happen too), or the basic
// tokenizer alone. Each input is tokenized once, so executions are not spent repeating the same
// text. Seeds: tests/fuzz/corpus/wordpiece/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mha/io/wordpiece.hpp"

namespace {

// A small vocabulary with specials, whole words, ## continuations, multi-byte and CJK entries.
const mha::Vocab& fuzz_vocab() {
  static const mha::Vocab vocab = mha::Vocab::parse(
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nman\nsaw\n##s\n##ing\nun\n##want\n##ed\n,\n.\n!\n"
      "a\n##a\ncaf\n##\xC3\xA9\n\xC3\xA9\n\xE5\x8D\x9A\n##\xCC\x81\ni\n##\xC4\xB1\n");
  return vocab;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  mha::WordPieceOptions options;
  options.do_lower_case = (flags & 1) != 0;
  if ((flags & 2) != 0) options.strip_accents = (flags & 4) != 0;
  options.tokenize_chinese_chars = (flags & 8) == 0;
  options.max_input_chars_per_word = (flags & 16) != 0 ? 5 : 100;
  const mha::WordPieceTokenizer tokenizer(fuzz_vocab(), options);

  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((flags & 64) != 0) {
    for (const std::string& word : tokenizer.basic_tokenize(text)) {
      if (word.empty()) __builtin_trap();  // the basic tokenizer never emits an empty word
    }
    return 0;
  }
  const bool pair = (flags & 32) != 0;
  const auto encoding = pair ? tokenizer.encode(text.substr(0, text.size() / 2),
                                                text.substr(text.size() / 2))
                             : tokenizer.encode(text);
  // Invariants worth a crash: one id and one type per token, every id inside the vocabulary.
  if (encoding.ids.size() != encoding.tokens.size() ||
      encoding.token_type_ids.size() != encoding.tokens.size()) {
    __builtin_trap();
  }
  for (const std::int64_t id : encoding.ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= fuzz_vocab().size()) __builtin_trap();
  }
  return 0;
}
