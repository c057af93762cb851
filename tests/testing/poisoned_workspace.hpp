// A workspace whose every slot already holds `bytes` bytes of 0xFF — NaN as float, "true" as a
// flag — so a call that reads scratch it has not written first shows it in its result.
#pragma once

#include <cstddef>
#include <cstring>

#include "mha/core/workspace.hpp"

namespace mha::testing {

inline void poison(Workspace& ws, Index bytes) {
  for (std::size_t slot = 0; slot < Workspace::kSlots; ++slot) {
    auto* block = ws.get<unsigned char>(static_cast<Workspace::Slot>(slot), bytes);
    std::memset(block, 0xFF, static_cast<std::size_t>(bytes));
  }
}

}  // namespace mha::testing
