// Driver of the decode kernel (contract: mha/kernels/cached_attention.hpp).
//
//   q: [B, Hq, n, D]   cache keys [B, Hkv, S_max, D], values [B, Hkv, S_max, Dv]   out: [B, Hq, n, Dv]
//
// A decode step reads 2·B·Hkv·S·D·sizeof bytes and does 4·B·Hq·S·D FLOPs: memory bound, so the
// plan is to read each cached row once. Work item (b, g, part): the G = Hq/Hkv query heads of kv
// head g times the c_b new rows of sequence b are the R = G·c_b rows of one call of the online
// softmax core over the part's keys, so every key and value row is loaded once for all of them.
// When B·Hkv < threads the keys of each (b, g) are split into P parts (Flash-Decoding); each part
// leaves its (max2, sum, acc) state in the workspace, and after a barrier the parts are merged in
// part order (merge_state_rows, exact log-sum-exp) and finished into out and lse. The split
// depends only on the thread count and the lengths, so a result is the same bits every time for
// one thread count. All scratch is one workspace slot: with a workspace that has grown, a step
// allocates nothing.
//
// Many new rows per sequence (prefill) are a different problem: compute bound, where the fused
// tiled kernel (mha::attention) wins; see kPrefillRows.
#include "kernels/cpu/cached_attention_cpu.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "mha/core/workspace.hpp"
#include "mha/kernels/attention.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace cpu {

// Measured by timing this kernel against mha::attention on the same problem (AMD EPYC, AVX2, 2 threads, a
// shared and loaded VM, so ±30%): one sequence, f32, Hq = Hkv = 8, D = 64, S = 4096, causal, µs
// per call, decode kernel / fused kernel:
//   n = 1: 15399 / 23001   8: 9981 / 20509   16: 12827 / 21896   32: 12305 / 27311
//   n = 48: 30967 / 29928   64: 48200 / 39677   128: 80312 / 39955
// The fused kernel pays for packing Kᵀ of all S keys whatever n is, the decode kernel's cost grows
// with n·S (its rows of a causal prefill have different key ranges, so each row reads the value
// block alone); they cross near n = 48.
const Index kPrefillRows = 48;

}  // namespace cpu

namespace {

constexpr Index kPadFloats = 16;     // acc and q rows padded to whole AVX-512 vectors
constexpr Index kMinPartKeys = 256;  // below this a part's fixed cost (pack, merge) outweighs the split
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Index round_up(Index n, Index m) { return (n + m - 1) / m * m; }

struct Plan {
  const CachedAttentionArgs* args = nullptr;
  const KvCache* cache = nullptr;
  Index batch = 0, heads = 0, kv_heads = 0, group = 0, n = 0, d = 0, dv = 0;
  Index d_pad = 0, dv_pad = 0, max_rows = 0, parts = 1;
  float scale_log2e = 0;
  // Item (b, g, part) scratch: q [max_rows, d_pad], acc [max_rows, dv_pad], max2, sum, lo, hi.
  unsigned char* scratch = nullptr;
  Index item_bytes = 0;

  Index count(Index b) const { return args->counts.empty() ? n : args->counts[static_cast<std::size_t>(b)]; }
  // Keys [lo, hi) of (b, ·) some new row may see.
  void span(Index b, Index& lo, Index& hi) const {
    const Index length = cache->length(b), first_pos = length - count(b);
    lo = args->window_left >= 0 ? std::max<Index>(0, first_pos - args->window_left) : 0;
    hi = length;
  }
};

struct ItemScratch {
  float *q, *acc, *max2, *sum;
  Index *lo, *hi;
};

ItemScratch item_scratch(const Plan& p, Index item) {
  unsigned char* base = p.scratch + item * p.item_bytes;
  ItemScratch s{};
  const auto take = [&](Index bytes) {
    unsigned char* block = base;
    base += round_up(bytes, 64);
    return block;
  };
  s.q = reinterpret_cast<float*>(take(p.max_rows * p.d_pad * Index{sizeof(float)}));
  s.acc = reinterpret_cast<float*>(take(p.max_rows * p.dv_pad * Index{sizeof(float)}));
  s.max2 = reinterpret_cast<float*>(take(p.max_rows * Index{sizeof(float)}));
  s.sum = reinterpret_cast<float*>(take(p.max_rows * Index{sizeof(float)}));
  s.lo = reinterpret_cast<Index*>(take(p.max_rows * Index{sizeof(Index)}));
  s.hi = reinterpret_cast<Index*>(take(p.max_rows * Index{sizeof(Index)}));
  return s;
}

Index item_bytes(const Plan& p) {
  const Index r = p.max_rows, f = sizeof(float), i = sizeof(Index);
  return round_up(r * p.d_pad * f, 64) + round_up(r * p.dv_pad * f, 64) + 2 * round_up(r * f, 64) +
         2 * round_up(r * i, 64);
}

// Part `part` of (b, g): pack its query rows (row r = i·G + hh is head g·G + hh, new row i),
// reset their states and attend the part's keys.
void attend_part(const Plan& p, Index b, Index g, Index part, const ItemScratch& s) {
  const CachedAttentionArgs& a = *p.args;
  const Index c = p.count(b), rows = c * p.group;
  Index span_lo = 0, span_hi = 0;
  p.span(b, span_lo, span_hi);
  const Index width = std::max<Index>(span_hi - span_lo, 0);
  const Index j0 = span_lo + width * part / p.parts, j1 = span_lo + width * (part + 1) / p.parts;
  const Index length = p.cache->length(b);
  for (Index i = 0; i < c; ++i) {
    const Index pos = length - c + i;
    const Index lo = a.window_left >= 0 ? pos - a.window_left : 0;
    const Index hi = a.causal ? pos + 1 : length;
    for (Index hh = 0; hh < p.group; ++hh) {
      const Index r = i * p.group + hh;
      const float* src = a.q.data() + b * a.q.stride(0) + (g * p.group + hh) * a.q.stride(1) + i * a.q.stride(2);
      float* dst = s.q + r * p.d_pad;
      for (Index x = 0; x < p.d; ++x) dst[x] = src[x * a.q.stride(3)];
      std::fill(dst + p.d, dst + p.d_pad, 0.0f);
      s.lo[r] = std::max(lo, j0) - j0;
      s.hi[r] = std::min(hi, j1) - j0;
      s.max2[r] = kNegInf;
      s.sum[r] = 0.0f;
      std::fill(s.acc + r * p.dv_pad, s.acc + (r + 1) * p.dv_pad, 0.0f);
    }
  }
  if (j1 <= j0 || rows == 0) return;
  const KvCache& cache = *p.cache;
  const auto bytes = static_cast<Index>(cache_dtype_bytes(cache.dtype()));
  const auto* keys = static_cast<const unsigned char*>(cache.key_data()) + cache.key_offset(b, g, j0) * bytes;
  const auto* values = static_cast<const unsigned char*>(cache.value_data()) + cache.value_offset(b, g, j0) * bytes;
  const cpu::QueryRows query{.q = s.q, .q_row = p.d_pad, .lo = s.lo, .hi = s.hi, .max2 = s.max2,
                        .sum = s.sum, .acc = s.acc, .acc_row = p.dv_pad, .count = rows};
  cpu::attend_cache_rows(cache.dtype(), query, keys, p.d, values, p.dv, j1 - j0, p.d, p.dv, p.scale_log2e);
}

// Merges the parts of (b, g) into part 0 and writes out and lse (padding rows 0 and −∞).
void finish(const Plan& p, Index b, Index g, Index first_item) {
  const CachedAttentionArgs& a = *p.args;
  const Index c = p.count(b), rows = c * p.group;
  const ItemScratch s0 = item_scratch(p, first_item);
  const cpu::StateRows into{s0.max2, s0.sum, s0.acc, p.dv_pad};
  for (Index part = 1; part < p.parts; ++part) {
    const ItemScratch s = item_scratch(p, first_item + part);
    cpu::merge_state_rows(into, {s.max2, s.sum, s.acc, p.dv_pad}, rows, p.dv);
  }
  for (Index hh = 0; hh < p.group; ++hh) {
    const Index h = g * p.group + hh;
    for (Index i = 0; i < p.n; ++i) {
      float* out = a.out.data() + b * a.out.stride(0) + h * a.out.stride(1) + i * a.out.stride(2);
      float* lse = a.lse.defined() ? a.lse.data() + b * a.lse.stride(0) + h * a.lse.stride(1) + i * a.lse.stride(2)
                                   : nullptr;
      if (i >= c) {  // padding row
        for (Index x = 0; x < p.dv; ++x) out[x * a.out.stride(3)] = 0.0f;
        if (lse != nullptr) *lse = kNegInf;
        continue;
      }
      const Index r = i * p.group + hh;
      cpu::finish_state_row(s0.max2[r], s0.sum[r], s0.acc + r * p.dv_pad, p.dv, out, a.out.stride(3), lse);
    }
  }
}

void decode(const CachedAttentionArgs& a, int threads, Workspace& workspace) {
  Plan p;
  p.args = &a;
  p.cache = a.cache;
  p.batch = a.q.dim(0);
  p.heads = a.q.dim(1);
  p.n = a.q.dim(2);
  p.d = a.q.dim(3);
  p.kv_heads = a.cache->kv_heads();
  p.group = p.heads / p.kv_heads;
  p.dv = a.cache->value_dim();
  p.d_pad = round_up(p.d, kPadFloats);
  p.dv_pad = round_up(p.dv, kPadFloats);
  p.scale_log2e = static_cast<float>(a.scale * std::numbers::log2e);
  Index max_count = 0, max_width = 0;
  for (Index b = 0; b < p.batch; ++b) {
    Index lo = 0, hi = 0;
    p.span(b, lo, hi);
    max_count = std::max(max_count, p.count(b));
    max_width = std::max(max_width, hi - lo);
  }
  p.max_rows = std::max<Index>(max_count * p.group, 1);
  const Index pairs = p.batch * p.kv_heads;
  if (pairs < threads)
    p.parts = std::clamp<Index>(std::min<Index>((threads + pairs - 1) / pairs, max_width / kMinPartKeys), 1, threads);
  p.item_bytes = item_bytes(p);
  const Index items = pairs * p.parts;
  p.scratch = workspace.get<unsigned char>(Workspace::Slot::cached_attention, items * p.item_bytes);

  const int team = static_cast<int>(std::min<Index>(threads, items));
#pragma omp parallel num_threads(team)
  {
#pragma omp for schedule(static)
    for (Index item = 0; item < items; ++item) {
      const Index part = item % p.parts, g = item / p.parts % p.kv_heads, b = item / p.parts / p.kv_heads;
      attend_part(p, b, g, part, item_scratch(p, item));
    }
    // The implicit barrier: every part has read its queries before any output is written (out
    // may be q itself), and every state is complete before the merge.
#pragma omp for schedule(static)
    for (Index pair = 0; pair < pairs; ++pair)
      finish(p, pair / p.kv_heads, pair % p.kv_heads, pair * p.parts);
  }
}

// Prefill: sequence by sequence, the fused kernel over a view of the cache (bf16 / f16 widened
// into workspace scratch first), bottom-right aligned, exactly the problem of the contract.
void prefill(const CachedAttentionArgs& a, const Context& ctx) {
  const KvCache& cache = *a.cache;
  const Index heads = a.q.dim(1), n = a.q.dim(2), d = a.q.dim(3), dv = cache.value_dim();
  const Index kv_heads = cache.kv_heads(), s_max = cache.max_length();
  for (Index b = 0; b < cache.batch(); ++b) {
    const Index c = a.counts.empty() ? n : a.counts[static_cast<std::size_t>(b)];
    const Index length = cache.length(b);
    for (Index h = 0; h < heads; ++h)
      for (Index i = c; i < n; ++i) {  // padding rows
        for (Index x = 0; x < dv; ++x) a.out(b, h, i, x) = 0.0f;
        if (a.lse.defined()) a.lse(b, h, i) = kNegInf;
      }
    if (c == 0) continue;
    TensorView<const float> k, v;
    if (cache.dtype() == CacheDtype::f32) {
      const auto* keys = static_cast<const float*>(cache.key_data());
      const auto* values = static_cast<const float*>(cache.value_data());
      k = {keys + cache.key_offset(b, 0, 0), {1, kv_heads, length, d}, {kv_heads * s_max * d, s_max * d, d, 1}};
      v = {values + cache.value_offset(b, 0, 0), {1, kv_heads, length, dv}, {kv_heads * s_max * dv, s_max * dv, dv, 1}};
    } else {
      float* wide = ctx.workspace->get<float>(Workspace::Slot::widened_cache, kv_heads * length * (d + dv));
      float* wide_v = wide + kv_heads * length * d;
      for (Index g = 0; g < kv_heads; ++g)
        for (Index j = 0; j < length; ++j) {
          for (Index x = 0; x < d; ++x) wide[(g * length + j) * d + x] = cache.key(b, g, j, x);
          for (Index x = 0; x < dv; ++x) wide_v[(g * length + j) * dv + x] = cache.value(b, g, j, x);
        }
      k = {wide, {1, kv_heads, length, d}};
      v = {wide_v, {1, kv_heads, length, dv}};
    }
    const TensorView<const float> q(a.q.data() + b * a.q.stride(0), {1, heads, c, d},
                                    {a.q.stride(0), a.q.stride(1), a.q.stride(2), a.q.stride(3)});
    const TensorView<float> out(a.out.data() + b * a.out.stride(0), {1, heads, c, dv},
                                {a.out.stride(0), a.out.stride(1), a.out.stride(2), a.out.stride(3)});
    TensorView<float> lse;
    if (a.lse.defined())
      lse = {a.lse.data() + b * a.lse.stride(0), {1, heads, c}, {a.lse.stride(0), a.lse.stride(1), a.lse.stride(2)}};
    AttentionParams params;
    params.scale = a.scale;
    params.causal = a.causal;
    params.window_left = a.window_left;
    params.alignment = Alignment::bottom_right;
    attention({.q = q, .k = k, .v = v, .out = out, .weights = {},
               .lse = lse, .params = std::move(params)},
              ctx);
  }
}

}  // namespace

void cached_attention_cpu(const CachedAttentionArgs& args, const Context& ctx) {
  cpu::cached_attention_cpu(args, ctx, cpu::CachedPath::automatic);
}

void cpu::cached_attention_cpu(const CachedAttentionArgs& args, const Context& ctx, CachedPath path) {
  Workspace own;
  const Context lent = with_workspace(ctx, own);
  Index max_count = 0;
  for (Index b = 0; b < args.q.dim(0); ++b)
    max_count = std::max(max_count, args.counts.empty() ? args.q.dim(2) : args.counts[static_cast<std::size_t>(b)]);
  if (path == CachedPath::fused || (path == CachedPath::automatic && max_count >= kPrefillRows))
    return prefill(args, lent);
  decode(args, cpu_threads(ctx), *lent.workspace);
}

}  // namespace mha
