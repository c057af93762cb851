// libFuzzer target: arbitrary bytes as a vocab.txt. Parsing must either succeed with ids that
// round-trip or throw mha::Error; then the vocabulary is used to tokenize a fixed sentence.
// Seeds: tests/fuzz/corpus/vocab/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mha/core/error.hpp"
#include "mha/io/wordpiece.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const mha::Vocab vocab = mha::Vocab::parse(text);
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const auto id = static_cast<std::int64_t>(i);
      // A token's id is its line, or a later line holding the same token.
      const auto found = vocab.id(vocab.token(id));
      if (!found || *found < id || vocab.token(*found) != vocab.token(id)) __builtin_trap();
    }
    const mha::WordPieceTokenizer tokenizer(vocab);
    (void)tokenizer.tokenize("The man saw unwanted caf\xC3\xA9s, [MASK] \xE5\x8D\x9A!");
    (void)tokenizer.encode("a", "b");  // throws mha::Error when [CLS], [SEP] or [UNK] is missing
  } catch (const mha::Error&) {
    // Rejected input (empty, not UTF-8) or a vocabulary without the special tokens: fine.
  }
  return 0;
}
