// How many OpenMP threads each caller's kernel gets in the concurrent-callers tests. Under
// ThreadSanitizer (the tsan preset; GCC defines __SANITIZE_THREAD__) one: GCC's libgomp is not
// instrumented, so its hand-offs inside a team would be reported as races. What the sanitizer
// checks there is the callers' own concurrency.
#pragma once

namespace mha::testing {

#if defined(__SANITIZE_THREAD__)
inline constexpr int kThreadsPerConcurrentCall = 1;
#else
inline constexpr int kThreadsPerConcurrentCall = 2;
#endif

}  // namespace mha::testing
