// Internal invariant checks. MHA_CHECK is always on; MHA_DCHECK only in debug builds.
// Both throw mha::InternalError: a failed check is a bug in mha, never the caller's input.
#pragma once

#include <string>

#include "mha/core/error.hpp"

#define MHA_CHECK(cond)                                                                  \
  do {                                                                                   \
    if (!(cond))                                                                         \
      throw ::mha::InternalError(std::string("internal check failed: ") + #cond + " (" + \
                                 __FILE__ + ":" + std::to_string(__LINE__) + ")");       \
  } while (false)

#ifdef NDEBUG
#define MHA_DCHECK(cond) \
  do {                   \
  } while (false)
#else
#define MHA_DCHECK(cond) MHA_CHECK(cond)
#endif
