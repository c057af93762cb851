// mha::Error message format and the internal-check macros.
#include "mha/core/error.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/check.hpp"

namespace mha {
namespace {

TEST(ThrowInvalid, MessageIsArgumentExpectedGot) {
  try {
    throw_invalid("attn_mask", "shape [2, 5] or [16, 2, 5]", "[2, 4]");
    FAIL() << "throw_invalid returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "attn_mask: expected shape [2, 5] or [16, 2, 5], got [2, 4]");
  }
}

TEST(ThrowInvalid, ThrowsAnErrorThatIsARuntimeError) {
  EXPECT_THROW(throw_invalid("a", "b", "c"), Error);
  EXPECT_THROW(throw_invalid("a", "b", "c"), std::runtime_error);
}

TEST(InternalError, IsAnError) {
  static_assert(std::is_base_of_v<Error, InternalError>);
  EXPECT_THROW(throw InternalError("x"), Error);
}

TEST(MhaCheck, PassingCheckDoesNothing) { EXPECT_NO_THROW(MHA_CHECK(1 + 1 == 2)); }

TEST(MhaCheck, FailingCheckThrowsInternalErrorNamingTheCondition) {
  try {
    MHA_CHECK(1 + 1 == 3);
    FAIL() << "MHA_CHECK did not throw";
  } catch (const InternalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("internal check failed: 1 + 1 == 3"), std::string::npos) << message;
    EXPECT_NE(message.find("error_test.cpp:"), std::string::npos) << message;
  }
}

TEST(MhaDcheck, ActiveOnlyInDebugBuilds) {
#ifdef NDEBUG
  EXPECT_NO_THROW(MHA_DCHECK(false));
#else
  EXPECT_THROW(MHA_DCHECK(false), InternalError);
#endif
}

}  // namespace
}  // namespace mha
