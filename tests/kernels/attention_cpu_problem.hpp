// Test problems for the fast CPU attention kernel and the numerics rule it must meet
// (../shared/numerics.md, tier 2, the FlashAttention rule):
//   max|out_cpu − out64| ≤ 2·max|out_naive − out64| + floor
// out64: the reference kernel (float64 math, rounded once to float); out_naive: the plain fp32
// loops below, which sum in another order; floor: 4 ulps of the largest |out64|.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/kernels/attention.hpp"
#include "testing/allclose.hpp"

namespace mha::testing {

struct ProblemSpec {
  Index batch = 1, heads = 2, kv_heads = 2, lq = 8, lk = 8, d = 16, dv = 16;
  bool causal = false;
  Alignment alignment = Alignment::top_left;
  Index window_left = -1;
  // Inputs stored as [B, L, H, D + pad] (the layer's layout) and read as [B, H, L, D]; pad > 0
  // gives odd strides.
  Index pad = 0;
  float magnitude = 1.0f;  // q and k ~ U(−magnitude, magnitude)
  bool want_weights = true;
  std::uint32_t seed = 1;
};

// Owns the buffers of one problem; masks are added by the test through the storage tensors.
struct Problem {
  ProblemSpec spec;
  std::vector<float> q_store, k_store, v_store, out_store;
  Tensor<> weights, lse;
  std::vector<Tensor<std::uint8_t>> flag_store;
  std::vector<Tensor<>> value_store;
  AttentionParams params;

  explicit Problem(const ProblemSpec& s) : spec(s) {
    std::mt19937 rng(s.seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    auto fill = [&](std::vector<float>& store, Index len, Index heads, Index width, float scale) {
      store.resize(static_cast<std::size_t>(s.batch * len * heads * (width + s.pad)));
      for (float& x : store) x = scale * uniform(rng);
    };
    fill(q_store, s.lq, s.heads, s.d, s.magnitude);
    fill(k_store, s.lk, s.kv_heads, s.d, s.magnitude);
    fill(v_store, s.lk, s.kv_heads, s.dv, 1.0f);
    out_store.assign(static_cast<std::size_t>(s.batch * s.lq * s.heads * (s.dv + s.pad)), -7.0f);
    params.scale = 1.0 / std::sqrt(static_cast<double>(s.d));
    params.causal = s.causal;
    params.alignment = s.alignment;
    params.window_left = s.window_left;
  }

  template <class T>
  TensorView<T> heads_view(T* data, Index len, Index heads, Index width) const {
    const Index row = heads * (width + spec.pad);
    return {data, {spec.batch, heads, len, width}, {len * row, width + spec.pad, row, 1}};
  }
  TensorView<float> q() { return heads_view(q_store.data(), spec.lq, spec.heads, spec.d); }
  TensorView<float> k() { return heads_view(k_store.data(), spec.lk, spec.kv_heads, spec.d); }
  TensorView<float> v() { return heads_view(v_store.data(), spec.lk, spec.kv_heads, spec.dv); }
  TensorView<float> out() { return heads_view(out_store.data(), spec.lq, spec.heads, spec.dv); }
  Shape mask_shape() const { return {spec.batch, spec.heads, spec.lq, spec.lk}; }

  // A flag mask stored as `shape` and broadcast to [B, H, Lq, Lk] with `strides`.
  Tensor<std::uint8_t>& add_flags(MaskKind kind, Shape shape, Shape strides) {
    flag_store.emplace_back(std::move(shape));
    params.masks.push_back({kind, {flag_store.back().data(), mask_shape(), std::move(strides)}, {}});
    return flag_store.back();
  }
  Tensor<>& add_values(Shape shape, Shape strides) {
    value_store.emplace_back(std::move(shape));
    params.masks.push_back(
        {MaskKind::additive, {}, {value_store.back().data(), mask_shape(), std::move(strides)}});
    return value_store.back();
  }
  // Each call to add_* may move earlier storage: reserve first.
  void reserve_masks(std::size_t n) {
    flag_store.reserve(n);
    value_store.reserve(n);
  }

  // Runs `kind` (out of place: fresh out/weights/lse each time); `path` forces one of the cpu
  // kernel's two paths.
  struct Result {
    Tensor<> out, weights, lse;
  };
  Result run(KernelKind kind, int threads = 0, AttentionPath path = AttentionPath::automatic) {
    std::fill(out_store.begin(), out_store.end(), -7.0f);
    Tensor<> w(spec.want_weights ? mask_shape() : Shape{0});
    Tensor<> l({spec.batch, spec.heads, spec.lq});
    AttentionArgs args{q(), k(), v(), out(), {}, l.view(), params};
    if (spec.want_weights) args.weights = w.view();
    Context ctx{kind, threads};
    ctx.attention_path = path;
    attention(args, ctx);
    return {Tensor<>::copy_of(out()), std::move(w), std::move(l)};
  }
  Result run_naive();
};

// The plain fp32 implementation: whole rows, scores first, then softmax, then P·V.
inline Problem::Result Problem::run_naive() {
  const ProblemSpec& s = spec;
  const TensorView<const float> qv = q(), kv = k(), vv = v();
  Result r{Tensor<>({s.batch, s.heads, s.lq, s.dv}), Tensor<>(mask_shape()),
           Tensor<>({s.batch, s.heads, s.lq})};
  const Index group = s.heads / s.kv_heads;
  std::vector<float> score(static_cast<std::size_t>(s.lk));
  std::vector<char> ok(static_cast<std::size_t>(s.lk));
  const float scale = static_cast<float>(params.scale);
  for (Index b = 0; b < s.batch; ++b)
    for (Index h = 0; h < s.heads; ++h)
      for (Index i = 0; i < s.lq; ++i) {
        const Index pos = s.alignment == Alignment::top_left ? i : i + s.lk - s.lq;
        float row_max = -std::numeric_limits<float>::infinity();
        for (Index j = 0; j < s.lk; ++j) {
          const auto sj = static_cast<std::size_t>(j);
          float dot = 0.0f;
          for (Index c = 0; c < s.d; ++c) dot += qv(b, h, i, c) * kv(b, h / group, j, c);
          float x = scale * dot;
          bool allowed = !(s.causal && j > pos) && !(s.window_left >= 0 && j < pos - s.window_left);
          for (const Mask& m : params.masks) {
            if (m.kind == MaskKind::block) allowed = allowed && m.flags(b, h, i, j) == 0;
            if (m.kind == MaskKind::keep) allowed = allowed && m.flags(b, h, i, j) != 0;
            if (m.kind == MaskKind::additive) {
              allowed = allowed && m.values(b, h, i, j) != -std::numeric_limits<float>::infinity();
              x += m.values(b, h, i, j);
            }
          }
          ok[sj] = allowed ? 1 : 0;
          score[sj] = x;
          if (allowed) row_max = std::max(row_max, x);
        }
        float sum = 0.0f;
        for (Index j = 0; j < s.lk; ++j) {
          const auto sj = static_cast<std::size_t>(j);
          score[sj] = ok[sj] ? std::exp(score[sj] - row_max) : 0.0f;
          sum += score[sj];
        }
        const bool none = row_max == -std::numeric_limits<float>::infinity();
        for (Index j = 0; j < s.lk; ++j)
          r.weights(b, h, i, j) = none ? 0.0f : score[static_cast<std::size_t>(j)] / sum;
        for (Index c = 0; c < s.dv; ++c) {
          float acc = 0.0f;
          for (Index j = 0; j < s.lk; ++j)
            if (ok[static_cast<std::size_t>(j)]) acc += score[static_cast<std::size_t>(j)] * vv(b, h / group, j, c);
          r.out(b, h, i, c) = none ? 0.0f : acc / sum;
        }
        r.lse(b, h, i) = none ? -std::numeric_limits<float>::infinity() : row_max + std::log(sum);
      }
  return r;
}

inline double max_magnitude(const Tensor<>& t) {
  double m = 0;
  for (float x : t.values())
    if (std::isfinite(x)) m = std::max(m, static_cast<double>(std::abs(x)));
  return m;
}

// The tier-2 rule for one output tensor.
inline ::testing::AssertionResult meets_rule(const std::string& what, const Tensor<>& fast,
                                             const Tensor<>& naive, const Tensor<>& ref) {
  const double err_fast = max_abs_diff(fast.view(), ref.view());
  const double err_naive = max_abs_diff(naive.view(), ref.view());
  const double floor = 4.0 * std::numeric_limits<float>::epsilon() * max_magnitude(ref);
  const double bound = 2.0 * err_naive + floor;
  if (err_fast <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": max|cpu − ref| = " << err_fast << " > 2·" << err_naive << " + " << floor
         << "\n" << all_close(fast.view(), ref.view(), bound).message();
}

// Both paths of the cpu kernel (the measured rule picks one per call; forced here).
inline constexpr AttentionPath kCpuPaths[] = {AttentionPath::fused, AttentionPath::unfused};

inline const char* path_name(AttentionPath path) {
  return path == AttentionPath::fused ? "fused path" : "unfused path";
}

// Runs reference, naive and both cpu paths on the problem and checks out, lse and weights.
inline void expect_cpu_meets_rule(Problem& p) {
  const Problem::Result ref = p.run(KernelKind::reference);
  const Problem::Result naive = p.run_naive();
  for (const AttentionPath path : kCpuPaths) {
    SCOPED_TRACE(path_name(path));
    const Problem::Result cpu = p.run(KernelKind::cpu, 0, path);
    EXPECT_TRUE(meets_rule("out", cpu.out, naive.out, ref.out));
    EXPECT_TRUE(meets_rule("lse", cpu.lse, naive.lse, ref.lse));
    if (p.spec.want_weights) {
      EXPECT_TRUE(meets_rule("weights", cpu.weights, naive.weights, ref.weights));
    }
  }
}

}  // namespace mha::testing
