// BertConfig: the fields of a Hugging Face BERT config.json that the encoder's forward pass uses.
// Defaults are transformers' BertConfig defaults (= bert-base-uncased). Fields that only matter
// for training (dropout probabilities) or for other heads are ignored when parsing.
#pragma once

#include <filesystem>
#include <string_view>

#include "mha/core/shape.hpp"
#include "mha/layers/activation.hpp"

namespace mha {

struct BertConfig {
  Index vocab_size = 30522;
  Index hidden_size = 768;         // E
  Index num_hidden_layers = 12;    // N
  Index num_attention_heads = 12;  // H; head_dim = E / H
  Index intermediate_size = 3072;  // F
  Activation hidden_act = Activation::gelu;
  Index max_position_embeddings = 512;
  Index type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  Index pad_token_id = 0;  // -1 when config.json says null

  Index head_dim() const { return hidden_size / num_attention_heads; }
};

// Checks ranges and relations (hidden_size divisible by num_attention_heads, pad_token_id below
// vocab_size, ...); throws mha::Error naming the field, the expected and the actual value.
void validate(const BertConfig& config);

// Parses config.json text. Absent fields keep their defaults; unknown fields are ignored. Throws
// mha::Error naming the field for: invalid JSON, a field of the wrong JSON type (e.g. a string
// "768"), a value out of range, an unknown hidden_act, position_embedding_type other than
// "absolute" ("relative_key" and "relative_key_query" are not supported), is_decoder = true,
// or a model_type other than "bert".
BertConfig parse_bert_config(std::string_view json_text);

// Reads and parses a config.json file; errors name the path.
BertConfig load_bert_config(const std::filesystem::path& path);

}  // namespace mha
