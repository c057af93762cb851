// throws_error: asserts that a call throws mha::Error (not InternalError, which means a bug) and
// that the message contains every given part, e.g.
//   EXPECT_TRUE(throws_error([&] { attention(args); }, {"k: expected shape [1, 2, 3, 4]", "got ["}));
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::testing {

template <class F>
::testing::AssertionResult throws_error(F&& call, std::initializer_list<std::string_view> parts) {
  try {
    call();
  } catch (const InternalError& e) {
    return ::testing::AssertionFailure() << "threw InternalError (a bug, not bad input): " << e.what();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string_view part : parts)
      if (message.find(part) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << part << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-mha exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace mha::testing
