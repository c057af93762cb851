// libFuzzer target: arbitrary bytes as a config.json. parse_bert_config must either throw
// mha::Error or return a configuration that validate() accepts and the encoder can size its
// weights from. Seeds: tests/fuzz/corpus/bert_config/; tests/fuzz/bert_config.dict holds the
// field names and JSON syntax.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mha/core/error.hpp"
#include "mha/models/bert_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mha::BertConfig config;
  try {
    config = mha::parse_bert_config(text);
  } catch (const mha::Error&) {
    return 0;  // rejected input
  }
  // Accepted: validation passes again, heads split the hidden size evenly, and the products the
  // checkpoint loader forms (embedding and FFN weight sizes) cannot overflow.
  try {
    mha::validate(config);
  } catch (const mha::Error&) {
    __builtin_trap();
  }
  if (config.head_dim() * config.num_attention_heads != config.hidden_size) __builtin_trap();
  mha::Index product = 0;
  if (__builtin_mul_overflow(config.vocab_size, config.hidden_size, &product) ||
      __builtin_mul_overflow(config.intermediate_size, config.hidden_size, &product) ||
      __builtin_mul_overflow(config.max_position_embeddings, config.hidden_size, &product))
    __builtin_trap();
  return 0;
}
