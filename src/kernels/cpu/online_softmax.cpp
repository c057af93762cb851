// The public online-softmax functions (mha/kernels/online_softmax.hpp): validation, then the
// SIMD core of online_softmax-inl.h on fp32 blocks, exact tails (the views are caller memory),
// through one dynamic dispatch per call.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/online_softmax.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "hwy/highway.h"
#include "kernels/cpu/online_softmax-inl.h"
#include "kernels/cpu/online_softmax_rows.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {

void AttendFloatRows(const QueryRows& rows, const KeyRows<float>& keys, float scale_log2e) {
  online::attend_rows</*kExactTails=*/true>(rows, keys, scale_log2e);
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "mha/core/error.hpp"
#include "mha/kernels/online_softmax.hpp"

namespace mha {
namespace cpu {
HWY_EXPORT(AttendFloatRows);
}  // namespace cpu

namespace {

template <class T>
std::string shape_text(const TensorView<T>& view) {
  return view.defined() ? shape_str(view.shape()) : "no data";
}

// Checks a state's views agree ([R], [R], [R, Dv] with unit stride along Dv); returns Dv.
Index check_state(const SoftmaxState& s, const char* name) {
  const bool ok = s.max2.defined() && s.sum.defined() && s.acc.defined() && s.max2.rank() == 1 &&
                  s.sum.rank() == 1 && s.acc.rank() == 2 && s.sum.dim(0) == s.max2.dim(0) &&
                  s.acc.dim(0) == s.max2.dim(0) && (s.acc.dim(1) <= 1 || s.acc.stride(1) == 1);
  if (!ok)
    throw_invalid(name, "max2 [R], sum [R] and acc [R, Dv] with unit stride along Dv",
                  shape_text(s.max2) + ", " + shape_text(s.sum) + ", " + shape_text(s.acc));
  return s.acc.dim(1);
}

void check_rows(const TensorView<const float>& view, Index rows, Index width, const char* name,
                const std::string& expected) {
  const bool ok = view.defined() && view.rank() == 2 && (rows < 0 || view.dim(0) == rows) &&
                  (width < 0 || view.dim(1) == width) && (view.dim(1) <= 1 || view.stride(1) == 1);
  if (!ok) throw_invalid(name, expected + " with unit stride along its last dimension", shape_text(view));
}

cpu::StateRows raw(const SoftmaxState& s) {
  return {s.max2.data(), s.sum.data(), s.acc.data(), s.acc.stride(0)};
}

}  // namespace

void softmax_state_reset(const SoftmaxState& state) {
  const Index dv = check_state(state, "state");
  for (Index r = 0; r < state.max2.dim(0); ++r) {
    state.max2(r) = -std::numeric_limits<float>::infinity();
    state.sum(r) = 0.0f;
    for (Index c = 0; c < dv; ++c) state.acc(r, c) = 0.0f;
  }
}

void online_softmax_attend(const SoftmaxState& state, const KeyBlock& block) {
  const Index dv = check_state(state, "state");
  const Index rows = state.max2.dim(0);
  check_rows(block.q, rows, -1, "q", "[" + std::to_string(rows) + ", D] (R rows of the state)");
  const Index d = block.q.dim(1);
  check_rows(block.k, -1, d, "k", "[n, " + std::to_string(d) + "]");
  const Index n = block.k.dim(0);
  check_rows(block.v, n, dv, "v", "[" + std::to_string(n) + ", " + std::to_string(dv) + "]");
  if (block.key_begin.size() != block.key_end.size() ||
      (!block.key_begin.empty() && static_cast<Index>(block.key_begin.size()) != rows))
    throw_invalid("key_begin", "none, or " + std::to_string(rows) + " entries in key_begin and key_end",
                  std::to_string(block.key_begin.size()) + " and " + std::to_string(block.key_end.size()));
  if (!std::isfinite(block.scale)) throw_invalid("scale", "a finite number", std::to_string(block.scale));
  // The core reads row r of state at stride; max2 and sum are taken as contiguous [R] arrays.
  if ((rows > 1 && (state.max2.stride(0) != 1 || state.sum.stride(0) != 1)))
    throw_invalid("state", "contiguous max2 and sum", "strided views");
  const cpu::StateRows s = raw(state);
  const cpu::QueryRows query{.q = block.q.data(), .q_row = block.q.stride(0),
                             .lo = block.key_begin.empty() ? nullptr : block.key_begin.data(),
                             .hi = block.key_end.empty() ? nullptr : block.key_end.data(),
                             .max2 = s.max2, .sum = s.sum, .acc = s.acc, .acc_row = s.acc_row,
                             .count = rows};
  const cpu::KeyRows<float> keys{.k = block.k.data(), .k_row = block.k.stride(0),
                                 .v = block.v.data(), .v_row = block.v.stride(0), .count = n,
                                 .d = d, .dv = dv};
  HWY_DYNAMIC_DISPATCH(cpu::AttendFloatRows)(query, keys,
                                             static_cast<float>(block.scale * std::numbers::log2e));
}

void online_softmax_merge(const SoftmaxState& state, const SoftmaxState& other) {
  const Index dv = check_state(state, "state");
  if (check_state(other, "other") != dv || other.max2.dim(0) != state.max2.dim(0))
    throw_invalid("other", "a state of " + shape_text(state.acc), shape_text(other.acc));
  const Index rows = state.max2.dim(0);
  if (rows > 1 && (state.max2.stride(0) != 1 || state.sum.stride(0) != 1 ||
                   other.max2.stride(0) != 1 || other.sum.stride(0) != 1))
    throw_invalid("state", "contiguous max2 and sum", "strided views");
  cpu::merge_state_rows(raw(state), raw(other), rows, dv);
}

void online_softmax_finish(const SoftmaxState& state, TensorView<float> out, TensorView<float> lse) {
  const Index dv = check_state(state, "state");
  const Index rows = state.max2.dim(0);
  if (!out.defined() || out.rank() != 2 || out.dim(0) != rows || out.dim(1) != dv)
    throw_invalid("out", "shape " + shape_text(state.acc), shape_text(out));
  if (lse.defined() && (lse.rank() != 1 || lse.dim(0) != rows))
    throw_invalid("lse", "shape [" + std::to_string(rows) + "]", shape_text(lse));
  for (Index r = 0; r < rows; ++r)
    cpu::finish_state_row(state.max2(r), state.sum(r), state.acc.data() + r * state.acc.stride(0),
                          dv, out.data() + r * out.stride(0), out.stride(1),
                          lse.defined() ? lse.data() + r * lse.stride(0) : nullptr);
}

}  // namespace mha
#endif
