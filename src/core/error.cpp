#include "mha/core/error.hpp"

namespace mha {

void throw_invalid(const std::string& argument, const std::string& expected,
                   const std::string& actual) {
  throw Error(argument + ": expected " + expected + ", got " + actual);
}

}  // namespace mha
