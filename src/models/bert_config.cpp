// config.json → BertConfig, with a named error for every field that is missing its JSON type,
// out of range or asks for something the encoder does not implement.
#include "mha/models/bert_config.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "mha/core/error.hpp"

namespace mha {
namespace {

using nlohmann::json;

// Keeps every product of two fields (e.g. vocab_size · hidden_size) inside 64 bits.
constexpr Index kMaxDimension = std::numeric_limits<std::int32_t>::max();

std::string field_name(std::string_view field) { return "config.json " + std::string(field); }

// The JSON value as text for messages, shortened so a huge value cannot flood them.
std::string describe(const json& value) {
  std::string text = std::string(value.type_name()) + " " + value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

const json* find(const json& config, std::string_view field) {
  const auto it = config.find(std::string(field));
  return it == config.end() ? nullptr : &*it;
}

void read_integer(const json& config, std::string_view field, Index minimum, Index& out) {
  const json* value = find(config, field);
  if (value == nullptr) return;
  const std::string range =
      "an integer in [" + std::to_string(minimum) + ", " + std::to_string(kMaxDimension) + "]";
  if (!value->is_number_integer()) throw_invalid(field_name(field), range, describe(*value));
  // nlohmann stores non-negative literals as unsigned: compare in the type it holds.
  const bool in_range =
      value->is_number_unsigned()
          ? value->get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxDimension) &&
                value->get<Index>() >= minimum
          : value->get<std::int64_t>() >= minimum && value->get<std::int64_t>() <= kMaxDimension;
  if (!in_range) throw_invalid(field_name(field), range, value->dump());
  out = value->get<Index>();
}

std::string read_string(const json& config, std::string_view field, std::string fallback) {
  const json* value = find(config, field);
  if (value == nullptr) return fallback;
  if (!value->is_string()) throw_invalid(field_name(field), "a string", describe(*value));
  return value->get<std::string>();
}

void read_eps(const json& config, BertConfig& c) {
  const json* value = find(config, "layer_norm_eps");
  if (value == nullptr) return;
  if (!value->is_number())
    throw_invalid(field_name("layer_norm_eps"), "a number", describe(*value));
  c.layer_norm_eps = value->get<double>();
}

void read_pad_token(const json& config, BertConfig& c) {
  const json* value = find(config, "pad_token_id");
  if (value != nullptr && value->is_null()) {
    c.pad_token_id = -1;
    return;
  }
  read_integer(config, "pad_token_id", 0, c.pad_token_id);
}

void reject_unsupported(const json& config) {
  const std::string position = read_string(config, "position_embedding_type", "absolute");
  if (position != "absolute")
    throw_invalid(field_name("position_embedding_type"),
                  "\"absolute\" (relative_key and relative_key_query are not supported by mha)",
                  "\"" + position + "\"");
  const std::string model_type = read_string(config, "model_type", "bert");
  if (model_type != "bert")
    throw_invalid(field_name("model_type"), "\"bert\"", "\"" + model_type + "\"");
  if (const json* decoder = find(config, "is_decoder"); decoder != nullptr) {
    if (!decoder->is_boolean())
      throw_invalid(field_name("is_decoder"), "a boolean", describe(*decoder));
    if (decoder->get<bool>())
      throw_invalid(field_name("is_decoder"), "false (only the bidirectional encoder is supported)",
                    "true");
  }
}

}  // namespace

void validate(const BertConfig& c) {
  const auto positive = [](Index value, std::string_view field) {
    if (value < 1 || value > kMaxDimension)
      throw_invalid(field_name(field), "an integer in [1, " + std::to_string(kMaxDimension) + "]",
                    std::to_string(value));
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  positive(c.num_attention_heads, "num_attention_heads");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.max_position_embeddings, "max_position_embeddings");
  positive(c.type_vocab_size, "type_vocab_size");
  if (c.hidden_size % c.num_attention_heads != 0)
    throw_invalid(
        field_name("hidden_size"),
        "a multiple of num_attention_heads (" + std::to_string(c.num_attention_heads) + ")",
        std::to_string(c.hidden_size));
  if (!std::isfinite(c.layer_norm_eps) || c.layer_norm_eps <= 0)
    throw_invalid(field_name("layer_norm_eps"), "a finite number > 0",
                  std::to_string(c.layer_norm_eps));
  if (c.pad_token_id < -1 || c.pad_token_id >= c.vocab_size)
    throw_invalid(field_name("pad_token_id"),
                  "null or an id in [0, vocab_size = " + std::to_string(c.vocab_size) + ")",
                  std::to_string(c.pad_token_id));
}

BertConfig parse_bert_config(std::string_view json_text) {
  json config;
  try {
    config = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw_invalid("config.json", "valid JSON", std::string("a syntax error (") + e.what() + ")");
  } catch (const json::exception& e) {
    // Well-formed JSON that nlohmann still refuses, e.g. 1e400 (out_of_range: beyond a double).
    throw_invalid("config.json", "valid JSON",
                  std::string("an unrepresentable value (") + e.what() + ")");
  }
  if (!config.is_object()) throw_invalid("config.json", "a JSON object", describe(config));
  reject_unsupported(config);
  BertConfig c;
  read_integer(config, "vocab_size", 1, c.vocab_size);
  read_integer(config, "hidden_size", 1, c.hidden_size);
  read_integer(config, "num_hidden_layers", 1, c.num_hidden_layers);
  read_integer(config, "num_attention_heads", 1, c.num_attention_heads);
  read_integer(config, "intermediate_size", 1, c.intermediate_size);
  read_integer(config, "max_position_embeddings", 1, c.max_position_embeddings);
  read_integer(config, "type_vocab_size", 1, c.type_vocab_size);
  c.hidden_act =
      parse_activation(read_string(config, "hidden_act", "gelu"), field_name("hidden_act"));
  read_eps(config, c);
  read_pad_token(config, c);
  validate(c);
  return c;
}

BertConfig load_bert_config(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw_invalid("config", "a readable config.json", "no such file '" + path.string() + "'");
  std::ostringstream text;
  text << file.rdbuf();
  try {
    return parse_bert_config(text.str());
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

}  // namespace mha
