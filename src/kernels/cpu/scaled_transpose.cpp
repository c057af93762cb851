// scaled_transpose.hpp, compiled once per SIMD target. Element by element, the transpose writes
// one float per store to a new cache line each time (the Kᵀ packing was 1.3 % of a dense and
// 3.4 % of a causal (1, 2048, 8, 64) core, where nothing else of it halves); AVX-512 transposes
// 16×16 blocks in registers (64 shuffles per 256 floats: unpacklo/hi_ps, unpacklo/hi_pd, then two
// rounds of 128-bit block shuffles), AVX2 8×8 blocks (24 shuffles per 64), each block's rows
// read and its columns written as whole vectors. Edges, strided sources and the other targets go
// element by element. Transposing moves values only, so every target gives the same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/scaled_transpose.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/cpu/scaled_transpose.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {

#if HWY_TARGET <= HWY_AVX3
constexpr Index kBlock = 16;

// dst rows x < 16: factor·(src rows r < 16, column x), src rows at src_row, dst rows at dst_row.
HWY_INLINE void transpose_block(const float* src, Index src_row, float factor, float* dst,
                                Index dst_row) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_row);
  for (int i = 0; i < 16; i += 2) {  // t: pairs of rows interleaved within 128-bit blocks
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // r: each 128-bit block holds one column of 4 rows
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // r[4q + c] holds, in 128-bit block k, column c + 4k of rows 4q … 4q + 3: gather block k of
  // r[c], r[4 + c], r[8 + c], r[12 + c] into column c + 4k.
  const __m512 f = _mm512_set1_ps(factor);
  for (int c = 0; c < 4; ++c) {
    const __m512 even_lo = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);   // blocks 0, 2 of each
    const __m512 even_hi = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    const __m512 odd_lo = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);    // blocks 1, 3 of each
    const __m512 odd_hi = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    _mm512_storeu_ps(dst + c * dst_row, _mm512_mul_ps(f, _mm512_shuffle_f32x4(even_lo, even_hi, 0x88)));
    _mm512_storeu_ps(dst + (c + 8) * dst_row, _mm512_mul_ps(f, _mm512_shuffle_f32x4(even_lo, even_hi, 0xdd)));
    _mm512_storeu_ps(dst + (c + 4) * dst_row, _mm512_mul_ps(f, _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88)));
    _mm512_storeu_ps(dst + (c + 12) * dst_row, _mm512_mul_ps(f, _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xdd)));
  }
}
#elif HWY_TARGET == HWY_AVX2
constexpr Index kBlock = 8;

HWY_INLINE void transpose_block(const float* src, Index src_row, float factor, float* dst,
                                Index dst_row) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_row);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // r[4q + c]: column c (low half) and c + 4 (high) of rows 4q …
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  const __m256 f = _mm256_set1_ps(factor);
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(dst + c * dst_row, _mm256_mul_ps(f, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20)));
    _mm256_storeu_ps(dst + (c + 4) * dst_row, _mm256_mul_ps(f, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31)));
  }
}
#endif  // the other targets go element by element

void ScaledTranspose(const float* src, Index src_row, Index src_col, Index rows, Index cols,
                     float factor, float* dst, Index dst_row) {
  Index r_blocked = 0, c_blocked = 0;
#if HWY_TARGET <= HWY_AVX3 || HWY_TARGET == HWY_AVX2
  if (src_col == 1) {
    r_blocked = rows / kBlock * kBlock;
    c_blocked = cols / kBlock * kBlock;
    for (Index r = 0; r < r_blocked; r += kBlock)
      for (Index c = 0; c < c_blocked; c += kBlock)
        transpose_block(src + r * src_row + c, src_row, factor, dst + c * dst_row + r, dst_row);
  }
#endif
  // What the blocks left: the columns past c_blocked of every row, then the rows past r_blocked.
  for (Index r = 0; r < rows; ++r)
    for (Index c = r < r_blocked ? c_blocked : 0; c < cols; ++c)
      dst[c * dst_row + r] = factor * src[r * src_row + c * src_col];
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(ScaledTranspose);

void scaled_transpose(const float* src, Index src_row, Index src_col, Index rows, Index cols,
                      float factor, float* dst, Index dst_row) {
  HWY_DYNAMIC_DISPATCH(ScaledTranspose)(src, src_row, src_col, rows, cols, factor, dst, dst_row);
}

}  // namespace mha::cpu
#endif
