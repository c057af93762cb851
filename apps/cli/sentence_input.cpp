#include "sentence_input.hpp"

#include "mha/layers/positional_encoding.hpp"

#include <cctype>
#include <cmath>
#include <numbers>

#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

// FNV-1a: a fixed, platform-independent hash, so a word's vector never changes between builds.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// SplitMix64: a tiny generator whose output is fully specified (unlike std:: distributions).
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  double unit() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_ascii_punct(char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::vector<std::string> tokenize_words(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  auto finish_word = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (const char c : text) {
    if (is_space(c)) {
      finish_word();
    } else if (is_ascii_punct(c)) {
      finish_word();
      tokens.emplace_back(1, c);
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  finish_word();
  if (tokens.empty()) throw_invalid("--text", "at least one word", "'" + std::string(text) + "'");
  return tokens;
}

Tensor<> word_embedding(std::string_view word, Index d_model, std::uint64_t seed) {
  SplitMix64 rng{fnv1a(word) ^ (seed * 0x9e3779b97f4a7c15ULL)};
  Tensor<> e({d_model});
  // Box–Muller: two uniforms → one standard normal (the second one is dropped for simplicity).
  for (float& value : e.values()) {
    const double radius = std::sqrt(-2.0 * std::log(rng.unit()));
    value = static_cast<float>(radius * std::cos(2.0 * std::numbers::pi * rng.unit()));
  }
  return e;
}

Tensor<> embed_sentence(std::span<const std::string> tokens, Index d_model, std::uint64_t seed) {
  const auto length = static_cast<Index>(tokens.size());
  Tensor<> x = sinusoidal_positions(length, d_model);
  for (Index i = 0; i < length; ++i) {
    const Tensor<> e = word_embedding(tokens[static_cast<std::size_t>(i)], d_model, seed);
    for (Index dim = 0; dim < d_model; ++dim) x(i, dim) += e(dim);
  }
  return x;
}

}  // namespace mha::cli
