// WordPieceTokenizer: HF BertTokenizer.tokenize / encode on top of the basic tokenizer and the
// greedy WordPiece split.
#include <utf8proc.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/wordpiece_basic.hpp"
#include "io/wordpiece_unicode.hpp"
#include "mha/io/wordpiece.hpp"

namespace mha {
namespace {

std::vector<std::string> to_utf8(const std::vector<std::u32string>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const std::u32string& token : tokens) out.push_back(wordpiece::encode_utf8(token));
  return out;
}

// Reads the tokenizer options HF's BertTokenizer takes from tokenizer_config.json; absent
// fields keep their defaults, present ones must have the right JSON type.
void read_tokenizer_config(const std::filesystem::path& file, WordPieceOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_invalid("tokenizer config", "a readable file", file.string());
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw_invalid(file.string(), "a JSON document", error.what());
  }
  if (!config.is_object()) throw_invalid(file.string(), "a JSON object", config.type_name());
  const auto read_bool = [&](const char* key, bool& value) {
    const auto found = config.find(key);
    if (found == config.end()) return;
    if (!found->is_boolean()) {
      throw_invalid(file.string() + ": " + key, "true or false", found->dump());
    }
    value = found->get<bool>();
  };
  read_bool("do_lower_case", options.do_lower_case);
  read_bool("tokenize_chinese_chars", options.tokenize_chinese_chars);
  const auto strip = config.find("strip_accents");
  if (strip != config.end() && !strip->is_null()) {
    if (!strip->is_boolean()) {
      throw_invalid(file.string() + ": strip_accents", "true, false or null", strip->dump());
    }
    options.strip_accents = strip->get<bool>();
  }
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {}

WordPieceTokenizer WordPieceTokenizer::from_folder(const std::filesystem::path& dir) {
  WordPieceOptions options;
  const std::filesystem::path config = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config)) read_tokenizer_config(config, options);
  return WordPieceTokenizer(Vocab::load(dir / "vocab.txt"), std::move(options));
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(std::string_view text) const {
  const wordpiece::BasicTokenizer basic(options_);
  return to_utf8(basic.tokenize(wordpiece::decode_utf8_lossy(text)));
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  const wordpiece::BasicTokenizer basic(options_);
  const std::u32string decoded = wordpiece::decode_utf8_lossy(text);
  const std::u32string_view rest_of_text(decoded);

  std::vector<std::string> tokens;
  // HF BertTokenizer.tokenize: (1) with do_lower_case, lowercase every character outside the
  // special tokens; (2) cut the text at each special token (leftmost, then longest) and keep
  // those verbatim; (3) basic-tokenize and WordPiece-split each segment in between.
  std::u32string segment;
  const auto flush_segment = [&] {
    for (const std::u32string& word : basic.tokenize(segment)) {
      if (basic.is_never_split(word)) {
        tokens.push_back(wordpiece::encode_utf8(word));
      } else {
        wordpiece::append_word_pieces(word, vocab_, options_, tokens);
      }
    }
    segment.clear();
  };
  std::size_t at = 0;
  while (at < rest_of_text.size()) {
    const std::u32string_view special = basic.never_split_prefix(rest_of_text.substr(at));
    if (!special.empty()) {
      flush_segment();
      tokens.push_back(wordpiece::encode_utf8(special));
      at += special.size();
      continue;
    }
    if (options_.do_lower_case) {
      wordpiece::append_lowercase(rest_of_text[at], segment);
    } else {
      segment.push_back(rest_of_text[at]);
    }
    ++at;
  }
  flush_segment();
  return tokens;
}

WordPieceTokenizer::Encoding WordPieceTokenizer::encode(std::string_view a,
                                                        std::optional<std::string_view> b) const {
  const auto required_id = [&](const std::string& token, const char* role) {
    const std::optional<std::int64_t> id = vocab_.id(token);
    if (!id) throw_invalid(role, "a token of the vocabulary", "\"" + token + "\", not in it");
    return *id;
  };
  const std::int64_t cls_id = required_id(options_.cls_token, "cls_token");
  const std::int64_t sep_id = required_id(options_.sep_token, "sep_token");
  const std::int64_t unk_id = required_id(options_.unk_token, "unk_token");

  Encoding encoding;
  const auto append = [&](const std::string& token, std::int64_t id, std::int64_t type) {
    encoding.tokens.push_back(token);
    encoding.ids.push_back(id);
    encoding.token_type_ids.push_back(type);
  };
  const auto append_sequence = [&](std::string_view text, std::int64_t type) {
    for (const std::string& token : tokenize(text)) {
      append(token, vocab_.id(token).value_or(unk_id), type);
    }
    append(options_.sep_token, sep_id, type);
  };
  append(options_.cls_token, cls_id, 0);
  append_sequence(a, 0);
  if (b) append_sequence(*b, 1);
  return encoding;
}

std::string_view WordPieceTokenizer::unicode_version() { return utf8proc_unicode_version(); }

}  // namespace mha
