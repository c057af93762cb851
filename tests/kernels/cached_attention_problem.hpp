// Test problems for attention over a KvCache, and the numerics rule the fast kernel must meet
// (../shared/numerics.md, tier 2): with out64 the float64 reference on the same cache,
//   max|out_cpu − out64| ≤ 2·max|out_naive − out64| + floor,   floor = 4 ulps of max|out64|
// where out_naive is the plain fp32 loop below (whole rows: scores, max, exp, sum, then P·V).
//
// The cache rows past each sequence's length hold NaN and ±Inf (appended, then truncated away), so
// any kernel that reads them shows it in its output.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/cached_attention_cpu.hpp"
#include "mha/kernels/cached_attention.hpp"
#include "mha/kernels/kv_cache.hpp"
#include "testing/allclose.hpp"

namespace mha::testing {

struct CachedSpec {
  Index heads = 4, kv_heads = 2, d = 16, dv = 0;  // dv 0 = d
  std::vector<Index> lengths = {8};                // one per sequence (the batch)
  std::vector<Index> counts = {};                  // new rows per sequence; empty = n for all
  Index n = 1;                                     // query rows per sequence
  Index max_length = 0;                            // 0: max length + 8 (room for the poison rows)
  bool causal = true;
  Index window_left = -1;
  CacheDtype dtype = CacheDtype::f32;
  float magnitude = 1.0f;  // q and k ~ U(−magnitude, magnitude); v ~ U(−1, 1)
  Index pad = 0;           // q and out rows padded (odd strides)
  std::uint32_t seed = 1;
};

struct CachedProblem {
  CachedSpec spec;
  Index batch, dv;
  KvCache cache;
  // The values the cache was filled from, before rounding to its dtype: [B][Hkv][len][D].
  std::vector<Tensor<>> keys, values;
  std::vector<float> q_store, out_store;
  Tensor<> lse;

  explicit CachedProblem(const CachedSpec& s)
      : spec(s), batch(static_cast<Index>(s.lengths.size())), dv(s.dv > 0 ? s.dv : s.d) {
    const Index longest = *std::max_element(s.lengths.begin(), s.lengths.end());
    cache = KvCache({.batch = batch, .kv_heads = s.kv_heads,
                     .max_length = s.max_length > 0 ? s.max_length : longest + 8, .head_dim = s.d,
                     .value_dim = dv, .dtype = s.dtype});
    std::mt19937 rng(s.seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (Index b = 0; b < batch; ++b) {
      const Index len = s.lengths[static_cast<std::size_t>(b)];
      Tensor<> k({s.kv_heads, len, s.d}), v({s.kv_heads, len, dv});
      for (float& x : k.values()) x = s.magnitude * uniform(rng);
      for (float& x : v.values()) x = uniform(rng);
      cache.append_sequence(b, k.view(), v.view());
      // Poison: rows past the length hold NaN and Inf.
      const Index poison = std::min<Index>(4, cache.max_length() - len);
      if (poison > 0) {
        Tensor<> pk({s.kv_heads, poison, s.d}), pv({s.kv_heads, poison, dv});
        for (std::size_t e = 0; e < pk.values().size(); ++e)
          pk.values()[e] = e % 2 == 0 ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
        for (std::size_t e = 0; e < pv.values().size(); ++e)
          pv.values()[e] = e % 2 == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
        cache.append_sequence(b, pk.view(), pv.view());
        cache.truncate(b, len);
      }
      keys.push_back(std::move(k));
      values.push_back(std::move(v));
    }
    q_store.resize(static_cast<std::size_t>(batch * s.heads * s.n * (s.d + s.pad)));
    for (float& x : q_store) x = s.magnitude * uniform(rng);
    out_store.assign(static_cast<std::size_t>(batch * s.heads * s.n * (dv + s.pad)), -7.0f);
    lse = Tensor<>({batch, s.heads, s.n});
  }

  // [B, Hq, n, width] over rows width + pad apart, stored [B, n, Hq, width + pad] (the layer's layout).
  template <class T>
  TensorView<T> heads_view(T* data, Index width) const {
    const Index row = spec.heads * (width + spec.pad);
    return {data, {batch, spec.heads, spec.n, width}, {spec.n * row, width + spec.pad, row, 1}};
  }
  TensorView<float> q() { return heads_view(q_store.data(), spec.d); }
  TensorView<float> out() { return heads_view(out_store.data(), dv); }

  CachedAttentionArgs args() {
    return {.q = q(), .cache = &cache, .counts = spec.counts, .out = out(), .lse = lse.view(),
            .scale = 1.0 / std::sqrt(static_cast<double>(spec.d)), .causal = spec.causal,
            .window_left = spec.window_left};
  }
  Index count(Index b) const { return spec.counts.empty() ? spec.n : spec.counts[static_cast<std::size_t>(b)]; }

  struct Result {
    Tensor<> out, lse;
  };
  // `path` other than automatic forces the cpu kernel's algorithm (cached_attention_cpu.hpp).
  Result run(KernelKind kind, int threads = 0, Workspace* workspace = nullptr,
             cpu::CachedPath path = cpu::CachedPath::automatic) {
    std::fill(out_store.begin(), out_store.end(), -7.0f);
    if (path == cpu::CachedPath::automatic)
      cached_attention(args(), Context{kind, threads, workspace});
    else
      cpu::cached_attention_cpu(args(), Context{kind, threads, workspace}, path);
    return {Tensor<>::copy_of(out()), Tensor<>::copy_of(lse.view())};
  }

  // The plain fp32 loops over the cache's stored (widened) values.
  Result run_naive() {
    const TensorView<const float> qv = q();
    Result r{Tensor<>({batch, spec.heads, spec.n, dv}), Tensor<>({batch, spec.heads, spec.n})};
    const Index group = spec.heads / spec.kv_heads;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.d)));
    for (Index b = 0; b < batch; ++b) {
      const Index len = cache.length(b), c = count(b);
      for (Index h = 0; h < spec.heads; ++h)
        for (Index i = 0; i < spec.n; ++i) {
          r.lse(b, h, i) = -std::numeric_limits<float>::infinity();
          if (i >= c) continue;
          const Index pos = len - c + i;
          const Index lo = spec.window_left >= 0 ? std::max<Index>(0, pos - spec.window_left) : 0;
          const Index hi = spec.causal ? std::min(len, pos + 1) : len;
          if (hi <= lo) continue;
          std::vector<float> s(static_cast<std::size_t>(hi - lo));
          float top = -std::numeric_limits<float>::infinity();
          for (Index j = lo; j < hi; ++j) {
            float dot = 0.0f;
            for (Index x = 0; x < spec.d; ++x) dot += qv(b, h, i, x) * cache.key(b, h / group, j, x);
            s[static_cast<std::size_t>(j - lo)] = scale * dot;
            top = std::max(top, scale * dot);
          }
          float total = 0.0f;
          for (float& x : s) total += (x = std::exp(x - top));
          for (Index c2 = 0; c2 < dv; ++c2) {
            float acc = 0.0f;
            for (Index j = lo; j < hi; ++j) acc += s[static_cast<std::size_t>(j - lo)] * cache.value(b, h / group, j, c2);
            r.out(b, h, i, c2) = acc / total;
          }
          r.lse(b, h, i) = top + std::log(total);
        }
    }
    return r;
  }
};

// Largest |x| over finite elements.
inline double max_abs(TensorView<const float> t) {
  double m = 0;
  Tensor<>::for_each_index(t.shape(), [&](std::span<const Index> idx) {
    Index offset = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) offset += idx[d] * t.strides()[d];
    const double x = std::abs(static_cast<double>(t.data()[offset]));
    if (std::isfinite(x)) m = std::max(m, x);
  });
  return m;
}

// The fast-vs-reference rule, on out and lse.
inline void expect_within_rule(const CachedProblem::Result& fast, const CachedProblem::Result& ref,
                               const CachedProblem::Result& naive) {
  const double eps = std::numeric_limits<float>::epsilon();
  const double out_tol = 2 * max_abs_diff(naive.out.view(), ref.out.view()) + 4 * eps * std::max(1.0, max_abs(ref.out.view()));
  EXPECT_TRUE(all_close(fast.out.view(), ref.out.view(), out_tol)) << "out, tolerance " << out_tol;
  const double lse_tol = 2 * max_abs_diff(naive.lse.view(), ref.lse.view()) + 4 * eps * std::max(1.0, max_abs(ref.lse.view()));
  EXPECT_TRUE(all_close(fast.lse.view(), ref.lse.view(), lse_tol)) << "lse, tolerance " << lse_tol;
}

}  // namespace mha::testing
