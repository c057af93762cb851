// ForcedTarget: runs a test's body on one Highway SIMD target (the dispatcher picks only it) and
// restores the CPU's own choice when the scope ends, pass or fail.
#pragma once

#include <cstdint>

#include "hwy/targets.h"

namespace mha::testing {

struct ForcedTarget {
  explicit ForcedTarget(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }
  ~ForcedTarget() { hwy::SetSupportedTargetsForTest(0); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

}  // namespace mha::testing
