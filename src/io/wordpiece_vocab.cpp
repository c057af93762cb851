// vocab.txt: one token per line, id = 0-based line number (HF BertTokenizer's load_vocab).
#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "io/wordpiece_unicode.hpp"
#include "mha/io/wordpiece.hpp"

namespace mha {
namespace {

bool is_utf8(std::string_view text) {
  return wordpiece::encode_utf8(wordpiece::decode_utf8_lossy(text)) == text;
}

}  // namespace

Vocab Vocab::parse(std::string_view text, std::string_view source) {
  if (text.empty()) {
    throw_invalid(std::string(source), "at least one token (one per line)", "an empty file");
  }
  Vocab vocab;
  // HF opens the file in Python's text mode, where "\r\n" and a lone '\r' read as '\n'; each
  // line is then stripped of that '\n' only. A final line without a newline is a token too.
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find_first_of("\r\n", start), text.size());
    std::string_view token = text.substr(start, end - start);
    const auto id = static_cast<std::int64_t>(vocab.tokens_.size());
    if (!is_utf8(token)) {
      throw_invalid(std::string(source) + " line " + std::to_string(id + 1), "UTF-8 text",
                    "invalid UTF-8 bytes");
    }
    vocab.tokens_.emplace_back(token);
    // A repeated token takes the later id, as HF's `vocab[token] = index` does.
    vocab.ids_.insert_or_assign(std::string(token), id);
    const bool crlf = text.substr(end, 2) == "\r\n";
    start = end + (crlf ? 2 : 1);
  }
  return vocab;
}

Vocab Vocab::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file))
    throw_invalid("vocab file", "a readable file", file.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw_invalid("vocab file", "a readable file", file.string() + " (read error)");
  return parse(bytes.str(), file.string());
}

std::optional<std::int64_t> Vocab::id(std::string_view token) const {
  const auto found = ids_.find(token);
  if (found == ids_.end()) return std::nullopt;
  return found->second;
}

const std::string& Vocab::token(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
    throw_invalid("token id", "an id in [0, " + std::to_string(tokens_.size()) + ")",
                  std::to_string(id));
  }
  return tokens_[static_cast<std::size_t>(id)];
}

}  // namespace mha
