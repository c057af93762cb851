// ForcedTarget: runs a test's body on one Highway SIMD target (the dispatcher picks only it) and
// restores the CPU's own choice when the scope ends, pass or fail; runnable_targets lists the
// targets a test should force one by one.
#pragma once

#include <cstdint>
#include <vector>

#include "hwy/targets.h"

namespace mha::testing {

struct ForcedTarget {
  explicit ForcedTarget(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }
  ~ForcedTarget() { hwy::SetSupportedTargetsForTest(0); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

// The targets of `compiled` (a mask of HWY_* bits, e.g. cpu::compiled_simd_targets()) that this
// CPU runs, one bit each, best first.
inline std::vector<std::int64_t> runnable_targets(std::int64_t compiled) {
  std::vector<std::int64_t> targets;
  for (std::int64_t rest = compiled & hwy::SupportedTargets(); rest != 0; rest &= rest - 1)
    targets.push_back(rest & -rest);
  return targets;
}

}  // namespace mha::testing
