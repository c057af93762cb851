// A register-blocked matrix product for the fast kernels' small tile products, per SIMD target:
//
//   C[r][c] = (accumulate ? C[r][c] : 0) + Σ_{x<depth} A(r, x) · B[x·b_row + c]
//   A(r, x) = a[r·a_row + x·a_col]   (a_col = 1: A row-major; a_row = 1: A read transposed)
//
// for r < rows and c < cols, cols a multiple of the target's lanes. Each step of x loads one
// row of a B panel (kPanelVectors vectors) once and broadcasts one A value per row against it;
// the kPanelRows × kPanelVectors accumulators stay in registers. Reading A through (a_row, a_col)
// makes the transposed products of the attention backward (Pᵀ·dO, dSᵀ·Q) the same loop as the
// others, with no transposed copy: the broadcasts do not care which way A is laid out.
//
// Per-target code, included by files that Highway compiles once per target: the toggling include
// guard of Highway's -inl headers instead of #pragma once.
#if defined(MHA_KERNELS_CPU_PANEL_PRODUCT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_KERNELS_CPU_PANEL_PRODUCT_INL_H_
#undef MHA_KERNELS_CPU_PANEL_PRODUCT_INL_H_
#else
#define MHA_KERNELS_CPU_PANEL_PRODUCT_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"
#include "mha/core/tensor.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace panel {
namespace hn = hwy::HWY_NAMESPACE;

// The register block of every tile product (the forward's Q·Kᵀ and P·V, the backward's five):
// rows × vectors accumulators, plus the panel's vectors and one broadcast, within the register
// file. AVX-512 (32 registers): 6 × 4 = 24 accumulators + 4 + 1, a 64-float panel (half a forward
// key tile, a whole backward one, or D = 64 in one pass). AVX2 (16 registers): 6 × 2 = 12 + 2 + 1.
// The portable targets only need to be right.
// Measured for the forward core on AMD EPYC (Zen 5), AVX3, 2 threads, mha_bench ms for
// (1,2048,8,64) dense / causal / (1,4096,16,64), the quietest of 8 interleaved rounds (medians of
// 3): 6×2 28.0/15.0/217, 8×2 27.0/14.6/211, 6×4 27.0/14.9/213, 12×2 27.7/14.8/214, 8×3
// 28.3/15.3/218 (ragged panels: 128 = 48 + 48 + 32). The spread is 1–3 %, near the noise: one
// tile product alone already reaches the one-core FMA peak with 6×2 (Zen 5's 2 FMA pipes × 4
// cycles of latency need 8 independent chains), so larger blocks save only reloads. 6×4 is level
// with the best and, with 64-float panels, leaves no ragged panel for D = 64 or 64-key tiles.
#if HWY_TARGET <= HWY_AVX3
inline constexpr int kPanelRows = 6;
inline constexpr int kPanelVectors = 4;
#elif HWY_TARGET == HWY_AVX2
inline constexpr int kPanelRows = 6;
inline constexpr int kPanelVectors = 2;
#else
inline constexpr int kPanelRows = 4;
inline constexpr int kPanelVectors = 2;
#endif

struct Operands {
  const float* a;
  Index a_row, a_col;
  const float* b;
  Index b_row;
  Index depth;
  float* c;
  Index c_row;
  bool accumulate;
  // Optional, for the forward's scores: row r's running maxima, one vector per row at
  // row_max + r·lanes; each block folds the columns it computed into it (lane-wise) while they
  // are still in registers, so the caller needs no pass over the rows to find their maxima.
  float* row_max = nullptr;
};

// kRows × kVectors block at A row r0, column c0.
template <int kRows, int kVectors>
HWY_INLINE void block(const Operands& o, Index r0, Index c0) {
  using DF = hn::ScalableTag<float>;
  const DF df;
  const Index n = static_cast<Index>(hn::Lanes(df));
  hn::Vec<DF> acc[static_cast<std::size_t>(kRows)][static_cast<std::size_t>(kVectors)];
  float* c = o.c + r0 * o.c_row + c0;
  HWY_UNROLL(8)
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVectors; ++v)
      acc[r][v] = o.accumulate ? hn::LoadU(df, c + r * o.c_row + v * n) : hn::Zero(df);
  const float* a = o.a + r0 * o.a_row;
  const float* b = o.b + c0;
  for (Index x = 0; x < o.depth; ++x, a += o.a_col, b += o.b_row) {
    hn::Vec<DF> bx[static_cast<std::size_t>(kVectors)];
    for (int v = 0; v < kVectors; ++v) bx[v] = hn::LoadU(df, b + v * n);
    HWY_UNROLL(8)
    for (int r = 0; r < kRows; ++r) {
      const auto ax = hn::Set(df, a[r * o.a_row]);
      for (int v = 0; v < kVectors; ++v) acc[r][v] = hn::MulAdd(ax, bx[v], acc[r][v]);
    }
  }
  HWY_UNROLL(8)
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVectors; ++v) hn::StoreU(acc[r][v], df, c + r * o.c_row + v * n);
  if (o.row_max == nullptr) return;
  HWY_UNROLL(8)
  for (int r = 0; r < kRows; ++r) {
    float* m = o.row_max + (r0 + r) * n;
    auto row = hn::Load(df, m);
    for (int v = 0; v < kVectors; ++v) row = hn::Max(row, acc[r][v]);
    hn::Store(row, df, m);
  }
}

// The last rows % kPanelRows rows of a panel: the block of exactly that height.
template <int kVectors, int kRows = kPanelRows - 1>
HWY_INLINE void remainder_rows(const Operands& o, Index r0, Index rows, Index c0) {
  if constexpr (kRows > 0) {
    if (rows == kRows) return block<kRows, kVectors>(o, r0, c0);
    remainder_rows<kVectors, kRows - 1>(o, r0, rows, c0);
  }
}

template <int kVectors>
HWY_INLINE void panel_rows(const Operands& o, Index rows, Index c0) {
  Index r0 = 0;
  for (; r0 + kPanelRows <= rows; r0 += kPanelRows) block<kPanelRows, kVectors>(o, r0, c0);
  if (r0 < rows) remainder_rows<kVectors>(o, r0, rows - r0, c0);
}

}  // namespace panel

// Calls body.template operator()<V>(c0) for the column panels of `cols` (whole vectors) in
// order: panels of kPanelVectors vectors, then of 2 (e.g. D = 32 on AVX-512: one 2-vector panel,
// not two of one), then of 1.
template <class Body>
HWY_INLINE void for_each_column_panel(Index cols, Body&& body) {
  namespace hn = hwy::HWY_NAMESPACE;
  const Index n = static_cast<Index>(hn::Lanes(hn::ScalableTag<float>()));
  constexpr int kVectors = panel::kPanelVectors;
  Index c0 = 0;
  for (; c0 + kVectors * n <= cols; c0 += kVectors * n) body.template operator()<kVectors>(c0);
  if constexpr (kVectors > 2)
    for (; c0 + 2 * n <= cols; c0 += 2 * n) body.template operator()<2>(c0);
  for (; c0 < cols; c0 += n) body.template operator()<1>(c0);
}

// Column panels outside, row blocks inside: one panel of B (depth × kPanelVectors vectors) stays
// in L1 while every row block passes over it.
inline void panel_product(const panel::Operands& o, Index rows, Index cols) {
  for_each_column_panel(cols, [&]<int kVectors>(Index c0) { panel::panel_rows<kVectors>(o, rows, c0); });
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // MHA_KERNELS_CPU_PANEL_PRODUCT_INL_H_ toggle
