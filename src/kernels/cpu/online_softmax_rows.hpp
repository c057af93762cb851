// Raw-pointer form of the online-softmax state (mha/kernels/online_softmax.hpp), shared by the
// public functions and the decode kernel: R rows of (max2, sum, acc[Dv]), acc rows acc_row apart.
#pragma once

#include "mha/core/shape.hpp"

namespace mha::cpu {

struct StateRows {
  float* max2 = nullptr;
  float* sum = nullptr;
  float* acc = nullptr;
  Index acc_row = 0;
};

// The query rows one call of the SIMD core (online_softmax-inl.h) attends, with their states.
struct QueryRows {
  const float* q = nullptr;  // row r at q + r·q_row (zero-padded to whole vectors unless the core reads exact tails)
  Index q_row = 0;
  const Index* lo = nullptr;  // row r may see keys [lo[r], hi[r]) of the run; null: all of them
  const Index* hi = nullptr;
  float* max2 = nullptr;      // the state, as in StateRows
  float* sum = nullptr;
  float* acc = nullptr;
  Index acc_row = 0;
  Index count = 0;            // R
};

// A run of n keys and values of element type T (float, hwy::bfloat16_t, hwy::float16_t).
template <class T>
struct KeyRows {
  const T* k = nullptr;  // row j at k + j·k_row, D elements
  Index k_row = 0;
  const T* v = nullptr;  // row j at v + j·v_row, Dv elements
  Index v_row = 0;
  Index count = 0;       // n
  Index d = 0, dv = 0;
};

// Rows [0, count) of `from` folded into `into` (the log-sum-exp merge): with m = max(m_a, m_b),
//   sum = 2^(m_a − m)·sum_a + 2^(m_b − m)·sum_b,   acc likewise.
void merge_state_rows(const StateRows& into, const StateRows& from, Index count, Index dv);

// One row's out[c·out_step] = acc[c] / sum (0 when the row saw no key) and, when lse is not null,
// *lse = ln 2·(max2 + log2 sum) (−∞ when it saw none); the log is taken in double.
void finish_state_row(float max2, float sum, const float* acc, Index dv, float* out, Index out_step,
                      float* lse);

}  // namespace mha::cpu
