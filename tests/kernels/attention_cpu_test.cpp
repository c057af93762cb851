// The fast CPU kernel against the float64 reference under the tier-2 rule
// (attention_cpu_problem.hpp), over lengths around the tile (72 × 128), register block (6 rows)
// and vector (8, 16) widths, head sizes 1–256, GQA ratios, every mask kind and broadcast, causality, windows, odd strides.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/attention_cpu_problem.hpp"

namespace mha::testing {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(AttentionCpu, LengthsAroundTileAndVectorWidths) {
  for (Index lq : {1, 3, 5, 6, 7, 8, 9, 16, 17, 71, 72, 73, 145})
    for (Index lk : {1, 7, 15, 16, 17, 31, 33, 127, 128, 129, 257}) {
      SCOPED_TRACE("lq=" + std::to_string(lq) + " lk=" + std::to_string(lk));
      Problem p({.lq = lq, .lk = lk, .d = 8, .dv = 8, .seed = static_cast<std::uint32_t>(lq * 1000 + lk)});
      expect_cpu_meets_rule(p);
    }
}

TEST(AttentionCpu, HeadDims) {
  for (Index d : {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256}) {
    SCOPED_TRACE("d=" + std::to_string(d));
    Problem p({.heads = 1, .kv_heads = 1, .lq = 19, .lk = 70, .d = d, .dv = d});
    expect_cpu_meets_rule(p);
  }
  Problem p({.lq = 19, .lk = 140, .d = 24, .dv = 5});  // Dv ≠ D
  expect_cpu_meets_rule(p);
}

TEST(AttentionCpu, GroupedQueryRatiosAndBatches) {
  for (auto [hq, hkv] : {std::pair<Index, Index>{4, 1}, {4, 2}, {6, 3}, {8, 8}}) {
    SCOPED_TRACE("hq=" + std::to_string(hq) + " hkv=" + std::to_string(hkv));
    Problem p({.batch = 3, .heads = hq, .kv_heads = hkv, .lq = 21, .lk = 150, .d = 16, .dv = 16});
    expect_cpu_meets_rule(p);
  }
}

TEST(AttentionCpu, OddStrides) {
  Problem p({.batch = 2, .heads = 3, .kv_heads = 3, .lq = 67, .lk = 131, .d = 13, .dv = 19, .pad = 3});
  expect_cpu_meets_rule(p);
}

TEST(AttentionCpu, CausalBothAlignmentsAndWindows) {
  for (Alignment align : {Alignment::top_left, Alignment::bottom_right})
    for (auto [lq, lk] : {std::pair<Index, Index>{150, 150}, {40, 300}, {300, 40}, {1, 129}, {73, 260}})
      for (Index window : {-1, 0, 5, 130})
        for (bool causal : {true, false}) {
          if (!causal && window < 0) continue;
          SCOPED_TRACE("lq=" + std::to_string(lq) + " lk=" + std::to_string(lk) +
                       " window=" + std::to_string(window) + " causal=" + std::to_string(causal) +
                       " bottom_right=" + std::to_string(align == Alignment::bottom_right));
          Problem p({.lq = lq, .lk = lk, .d = 8, .dv = 8, .causal = causal, .alignment = align,
                     .window_left = window});
          expect_cpu_meets_rule(p);
        }
}

TEST(AttentionCpu, KeyPaddingBlockMaskBroadcast) {
  Problem p({.batch = 2, .heads = 3, .kv_heads = 3, .lq = 70, .lk = 200, .d = 16, .dv = 16});
  auto& pad = p.add_flags(MaskKind::block, {2, 200}, {200, 0, 0, 1});
  for (Index j = 150; j < 200; ++j) pad(0, j) = 1;
  for (Index j = 0; j < 200; j += 3) pad(1, j) = 1;
  expect_cpu_meets_rule(p);
}

TEST(AttentionCpu, KeepMaskPerRowAndAdditiveWithInfinities) {
  Problem p({.batch = 2, .heads = 2, .kv_heads = 1, .lq = 45, .lk = 133, .d = 16, .dv = 16});
  p.reserve_masks(3);
  std::mt19937 rng(7);
  auto& keep = p.add_flags(MaskKind::keep, {45, 133}, {0, 0, 133, 1});
  for (std::uint8_t& f : keep.values()) f = rng() % 4 != 0 ? 1 : 0;
  auto& add = p.add_values({4, 45, 133}, {2 * 45 * 133, 45 * 133, 133, 1});
  for (float& x : add.values()) x = rng() % 5 == 0 ? -kInf : static_cast<float>(rng() % 100) / 25.0f - 2.0f;
  auto& block = p.add_flags(MaskKind::block, {133}, {0, 0, 0, 1});
  block(7) = 1;
  expect_cpu_meets_rule(p);
}

TEST(AttentionCpu, AdditiveMaskBroadcastOverRowsVaryingByHead) {
  Problem p({.heads = 4, .kv_heads = 4, .lq = 33, .lk = 100, .d = 8, .dv = 8});
  auto& add = p.add_values({4, 100}, {0, 100, 0, 1});
  for (Index h = 0; h < 4; ++h)
    for (Index j = 0; j < 100; ++j) add(h, j) = static_cast<float>((h + 1) * (j % 7)) - 10.0f;
  expect_cpu_meets_rule(p);
}

TEST(AttentionCpu, FullyMaskedRowsGiveZerosAndMinusInfinity) {
  Problem p({.lq = 70, .lk = 140, .d = 8, .dv = 8});
  auto& keep = p.add_flags(MaskKind::keep, {70, 140}, {0, 0, 140, 1});
  for (Index i = 0; i < 70; ++i)
    for (Index j = 0; j < 140; ++j) keep(i, j) = (i % 3 == 0) ? 0 : 1;
  for (const AttentionPath path : kCpuPaths) {
    SCOPED_TRACE(path_name(path));
    const Problem::Result cpu = p.run(KernelKind::cpu, 0, path);
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < 70; i += 3) {
        EXPECT_EQ(cpu.lse(0, h, i), -kInf);
        for (Index c = 0; c < 8; ++c) EXPECT_EQ(cpu.out(0, h, i, c), 0.0f);
        for (Index j = 0; j < 140; ++j) EXPECT_EQ(cpu.weights(0, h, i, j), 0.0f);
      }
  }
  expect_cpu_meets_rule(p);
  // Bottom-right causal with Lq > Lk: the first rows see no key at all.
  Problem q({.lq = 100, .lk = 30, .d = 8, .dv = 8, .causal = true, .alignment = Alignment::bottom_right});
  expect_cpu_meets_rule(q);
}

TEST(AttentionCpu, NonFiniteMaskedKeysAndValuesNeverReachTheOutput) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf}) {
    Problem p({.lq = 20, .lk = 150, .d = 16, .dv = 16});
    auto& pad = p.add_flags(MaskKind::block, {150}, {0, 0, 0, 1});
    const TensorView<float> k = p.k(), v = p.v();
    for (Index j : {3, 64, 149}) {
      pad(j) = 1;
      for (Index h = 0; h < 2; ++h) {
        for (Index c = 0; c < 16; ++c) k(0, h, j, c) = bad;
        for (Index c = 0; c < 16; ++c) v(0, h, j, c) = bad;
      }
    }
    for (const AttentionPath path : kCpuPaths) {
      const Problem::Result cpu = p.run(KernelKind::cpu, 0, path);
      for (float x : cpu.out.values()) ASSERT_TRUE(std::isfinite(x)) << path_name(path);
    }
    expect_cpu_meets_rule(p);
  }
  // The same through causality: future keys of the last rows hold NaN. Values with NaN send
  // every call to the fused path (the unfused one would multiply them by p = 0), so NaN in the
  // keys alone checks the unfused path.
  for (const bool values_too : {true, false}) {
    const AttentionPath path = values_too ? AttentionPath::fused : AttentionPath::unfused;
    SCOPED_TRACE(path_name(path));
    Problem p({.lq = 100, .lk = 100, .d = 8, .dv = 8, .causal = true});
    const TensorView<float> k = p.k(), v = p.v();
    const Problem::Result clean = p.run(KernelKind::cpu, 0, path);
    for (Index h = 0; h < 2; ++h)
      for (Index c = 0; c < 8; ++c) {
        k(0, h, 99, c) = std::numeric_limits<float>::quiet_NaN();
        if (values_too) v(0, h, 99, c) = std::numeric_limits<float>::quiet_NaN();
      }
    const Problem::Result dirty = p.run(KernelKind::cpu, 0, path);
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < 99; ++i)
        for (Index c = 0; c < 8; ++c) ASSERT_EQ(dirty.out(0, h, i, c), clean.out(0, h, i, c));
  }
}

TEST(AttentionCpu, NaNInAnAllowedKeyPropagatesToEveryRowThatSeesIt) {
  // numerics.md: a NaN the masks do not block reaches the output, as in PyTorch (its score is
  // NaN, so is the row's softmax). One feature of key 5 of head 0 (Lk = 140, short rows) or of
  // key 300 (Lk = 600, in the middle of a vector and a key tile); with causality the rows before
  // the key stay clean, and head 1 stays clean throughout. Both paths.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Index lk : {140, 600})
    for (const bool causal : {false, true})
      for (const AttentionPath path : kCpuPaths) {
        SCOPED_TRACE(std::string(path_name(path)) + ", Lk " + std::to_string(lk) +
                     (causal ? ", causal" : ""));
        Problem p({.lq = lk, .lk = lk, .d = 16, .dv = 16, .causal = causal});
        const Index key = lk > 300 ? 300 : 5;
        p.k()(0, 0, key, 3) = nan;
        const Problem::Result r = p.run(KernelKind::cpu, 0, path);
        for (Index i = 0; i < lk; ++i) {
          const bool sees = !causal || i >= key;
          for (Index c = 0; c < 16; ++c) {
            ASSERT_EQ(std::isnan(r.out(0, 0, i, c)), sees) << "row " << i << ", column " << c;
            ASSERT_FALSE(std::isnan(r.out(0, 1, i, c))) << "head 1, row " << i;
          }
        }
      }
}

TEST(AttentionCpu, LargeLogitsDoNotOverflow) {
  Problem p({.lq = 40, .lk = 200, .d = 16, .dv = 16, .magnitude = 100.0f});  // scores up to ±1e4
  expect_cpu_meets_rule(p);
  for (const AttentionPath path : kCpuPaths) {
    const Problem::Result cpu = p.run(KernelKind::cpu, 0, path);
    for (float x : cpu.out.values()) ASSERT_TRUE(std::isfinite(x)) << path_name(path);
  }
}

TEST(AttentionCpu, CustomScaleAndNoOptionalOutputs) {
  Problem p({.lq = 30, .lk = 90, .d = 16, .dv = 16, .want_weights = false});
  p.params.scale = 0.37;
  expect_cpu_meets_rule(p);
  // Neither weights nor lse: only out is written.
  std::vector<float> expected;
  {
    const Problem::Result r = p.run(KernelKind::cpu);
    expected.assign(r.out.values().begin(), r.out.values().end());
  }
  AttentionArgs args{p.q(), p.k(), p.v(), p.out(), {}, {}, p.params};
  attention(args, Context{KernelKind::cpu, 0});
  const Tensor<> out = Tensor<>::copy_of(p.out());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), out.values().begin()));
}

TEST(AttentionCpu, LongSequence) {
  Problem p({.heads = 2, .kv_heads = 2, .lq = 1024, .lk = 1024, .d = 64, .dv = 64, .causal = true,
             .want_weights = false});
  expect_cpu_meets_rule(p);
}

}  // namespace
}  // namespace mha::testing
