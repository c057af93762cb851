// The built-in input of `mha demo` and `mha explain`: words → vectors, with no trained model.
//
//   tokens = lowercase words and single punctuation marks of the text
//   x_i    = e(token_i) + PE(i)                                          [L, d_model]
//   e(w)   = d_model values ~ N(0, 1), drawn from a generator seeded by hash(w) and the seed, so
//            the same word always gets the same vector (a static, untrained embedding)
//   PE(i)  = mha::sinusoidal_positions (mha/layers/positional_encoding.hpp): the sinusoidal positional encoding of "Attention Is All You Need" §3.5:
//            PE(i, 2k) = sin(i / 10000^(2k/d_model)),  PE(i, 2k+1) = cos(i / 10000^(2k/d_model))
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::cli {

// "The man saw the astronaut, didn't he?" → the man saw the astronaut , didn ' t he ?
// Splits on whitespace; each ASCII punctuation character is a token of its own; ASCII letters are
// lowercased (other bytes are kept as they are). Throws mha::Error naming --text when no token
// remains.
std::vector<std::string> tokenize_words(std::string_view text);

// The static embedding e(w): [d_model].
Tensor<> word_embedding(std::string_view word, Index d_model, std::uint64_t seed);

// x_i = e(token_i) + PE(i): [L, d_model].
Tensor<> embed_sentence(std::span<const std::string> tokens, Index d_model, std::uint64_t seed);

}  // namespace mha::cli
