// mha::Error — the one exception type the library throws on bad input.
//
// Messages name the argument, the expected value and the actual value, e.g.
//   "attn_mask: expected shape [2, 5] or [16, 2, 5], got [2, 4]".
// Internal invariants use MHA_CHECK (src/core/check.hpp), which throws InternalError.
#pragma once

#include <stdexcept>
#include <string>

namespace mha {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant inside mha (a bug, not bad input).
class InternalError : public Error {
 public:
  using Error::Error;
};

// Throws Error("<argument>: expected <expected>, got <actual>").
[[noreturn]] void throw_invalid(const std::string& argument, const std::string& expected,
                                const std::string& actual);

}  // namespace mha
