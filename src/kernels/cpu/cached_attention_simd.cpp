// The decode kernel's SIMD work: the online-softmax core (online_softmax-inl.h) instantiated for
// the cache's element types, compiled once per target; attend_cache_rows() below is the one
// dynamic dispatch.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/cached_attention_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/cpu/cached_attention_cpu.hpp"
#include "kernels/cpu/online_softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {

template <class T>
void attend_typed(const QueryRows& rows, const void* k, Index k_row, const void* v, Index v_row,
                  Index keys, Index d, Index dv, float scale_log2e) {
  const KeyRows<T> run{.k = static_cast<const T*>(k), .k_row = k_row, .v = static_cast<const T*>(v),
                       .v_row = v_row, .count = keys, .d = d, .dv = dv};
  online::attend_rows</*kExactTails=*/false>(rows, run, scale_log2e);
}

void AttendCacheRows(CacheDtype dtype, const QueryRows& rows, const void* k, Index k_row,
                     const void* v, Index v_row, Index keys, Index d, Index dv, float scale_log2e) {
  switch (dtype) {
    case CacheDtype::f32: return attend_typed<float>(rows, k, k_row, v, v_row, keys, d, dv, scale_log2e);
    case CacheDtype::bf16:
      return attend_typed<hwy::bfloat16_t>(rows, k, k_row, v, v_row, keys, d, dv, scale_log2e);
    case CacheDtype::f16:
      return attend_typed<hwy::float16_t>(rows, k, k_row, v, v_row, keys, d, dv, scale_log2e);
  }
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(AttendCacheRows);

void attend_cache_rows(CacheDtype dtype, const QueryRows& rows, const void* k, Index k_row,
                       const void* v, Index v_row, Index keys, Index d, Index dv, float scale_log2e) {
  HWY_DYNAMIC_DISPATCH(AttendCacheRows)(dtype, rows, k, k_row, v, v_row, keys, d, dv, scale_log2e);
}

}  // namespace mha::cpu
#endif
