// mha::attention / mha::linear validation (every error path names the view, expected and actual)
// and the kernel names and parser.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "mha/kernels/attention.hpp"
#include "mha/kernels/linear.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

// Well-formed buffers for B = 2, Hq = 4, Hkv = 2, Lq = 3, Lk = 5, D = 6, Dv = 7; each test breaks
// one thing.
struct Valid {
  Tensor<> q{{2, 4, 3, 6}}, k{{2, 2, 5, 6}}, v{{2, 2, 5, 7}}, out{{2, 4, 3, 7}};
  Tensor<> weights{{2, 4, 3, 5}}, lse{{2, 4, 3}};
  BoolTensor flags{{2, 4, 3, 5}};
  Tensor<> additive{{2, 4, 3, 5}};
  AttentionArgs args() {
    return {.q = q.view(), .k = k.view(), .v = v.view(), .out = out.view(), .weights = weights.view(),
            .lse = lse.view(), .params = {.scale = 0.5, .masks = {}}};
  }
};

TEST(AttentionValidation, ValidArgumentsRun) {
  Valid x;
  AttentionArgs a = x.args();
  a.params.masks = {block_mask(x.flags.view()), keep_mask(TensorView<const std::uint8_t>(x.flags.data(), {2, 4, 3, 5}, {0, 0, 0, 0})),
                    additive_mask(x.additive.view())};
  a.params.window_left = 0;
  EXPECT_NO_THROW(attention(a));
}

TEST(AttentionValidation, InputsMustBeRankFour) {
  Valid x;
  AttentionArgs a = x.args();
  a.q = x.q.view_as({8, 3, 6});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"q: expected a rank-4 view, got [8, 3, 6]"}));
  a = x.args();
  a.k = x.k.view_as({2, 2, 5, 6, 1});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"k: expected a rank-4 view, got [2, 2, 5, 6, 1]"}));
  a = x.args();
  a.v = x.v.view_as({140});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"v: expected a rank-4 view, got [140]"}));
  a = x.args();
  a.q = {};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"q: expected a rank-4 view, got []"}));
}

TEST(AttentionValidation, KvHeadsMustDivideQueryHeads) {
  Valid x;
  const Tensor<> k3({2, 3, 5, 6}), v3({2, 3, 5, 7});
  AttentionArgs a = x.args();
  a.k = k3.view();
  a.v = v3.view();
  EXPECT_TRUE(throws_error([&] { attention(a); },
                           {"k: expected a number of kv heads dividing the 4 query heads, got 3"}));
  const Tensor<> k0({2, 0, 5, 6}), v0({2, 0, 5, 7});
  a.k = k0.view();
  a.v = v0.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"dividing the 4 query heads, got 0"}));
  const Tensor<> k8({2, 8, 5, 6}), v8({2, 8, 5, 7});  // more kv heads than query heads
  a.k = k8.view();
  a.v = v8.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"dividing the 4 query heads, got 8"}));
}

TEST(AttentionValidation, KeyMustMatchQueryBatchAndHeadDim) {
  Valid x;
  const Tensor<> k_d({2, 2, 5, 5}), k_b({1, 2, 5, 6});
  AttentionArgs a = x.args();
  a.k = k_d.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"k: expected shape [2, 2, 5, 6], got [2, 2, 5, 5]"}));
  a.k = k_b.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"k: expected shape [2, 2, 5, 6], got [1, 2, 5, 6]"}));
}

TEST(AttentionValidation, ValueMustMatchKey) {
  Valid x;
  const Tensor<> v_len({2, 2, 4, 7}), v_heads({2, 1, 5, 7}), v_batch({1, 2, 5, 7});
  AttentionArgs a = x.args();
  a.v = v_len.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"v: expected shape [2, 2, 5, 7], got [2, 2, 4, 7]"}));
  a.v = v_heads.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"v: expected shape [2, 2, 5, 7], got [2, 1, 5, 7]"}));
  a.v = v_batch.view();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"v: expected shape [2, 2, 5, 7], got [1, 2, 5, 7]"}));
}

TEST(AttentionValidation, OutputShapes) {
  Valid x;
  const Tensor<> out_d({2, 4, 3, 6}), weights_t({2, 4, 5, 3}), lse_t({2, 4, 3, 1});
  AttentionArgs a = x.args();
  a.out = TensorView<float>(const_cast<float*>(out_d.data()), {2, 4, 3, 6});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"out: expected shape [2, 4, 3, 7], got [2, 4, 3, 6]"}));
  a = x.args();
  a.out = {};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"out: expected shape [2, 4, 3, 7], got []"}));
  a = x.args();
  a.weights = TensorView<float>(const_cast<float*>(weights_t.data()), {2, 4, 5, 3});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"weights: expected shape [2, 4, 3, 5], got [2, 4, 5, 3]"}));
  a = x.args();
  a.lse = TensorView<float>(const_cast<float*>(lse_t.data()), {2, 4, 3, 1});
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"lse: expected shape [2, 4, 3], got [2, 4, 3, 1]"}));
}

TEST(AttentionValidation, ScaleMustBeFinite) {
  Valid x;
  AttentionArgs a = x.args();
  a.params.scale = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"scale: expected a finite number, got "}));
  a.params.scale = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"scale: expected a finite number, got inf"}));
  a.params.scale = -std::numeric_limits<double>::infinity();
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"scale: expected a finite number, got -inf"}));
}

TEST(AttentionValidation, WindowBelowMinusOneIsRejected) {
  Valid x;
  AttentionArgs a = x.args();
  a.params.window_left = -2;
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"window_left: expected -1 (unlimited) or >= 0, got -2"}));
}

TEST(AttentionValidation, MaskShapeMustBeTheFullBroadcastShape) {
  Valid x;
  AttentionArgs a = x.args();
  const BoolTensor small({3, 5});
  a.params.masks = {block_mask(small.view())};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected shape [2, 4, 3, 5], got [3, 5]"}));
  const Tensor<> wrong({2, 4, 3, 4});
  a.params.masks = {additive_mask(wrong.view())};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected shape [2, 4, 3, 5], got [2, 4, 3, 4]"}));
  // The second of two masks is checked too.
  a.params.masks = {keep_mask(x.flags.view()), block_mask(small.view())};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected shape [2, 4, 3, 5], got [3, 5]"}));
}

TEST(AttentionValidation, MaskWithoutDataIsRejected) {
  Valid x;
  AttentionArgs a = x.args();
  a.params.masks = {block_mask({})};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected boolean flags, got no data"}));
  a.params.masks = {keep_mask({})};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected boolean flags, got no data"}));
  a.params.masks = {additive_mask({})};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected float values, got no data"}));
  // An additive mask whose data sits in the flags slot has no values.
  a.params.masks = {Mask{MaskKind::additive, x.flags.view(), {}}};
  EXPECT_TRUE(throws_error([&] { attention(a); }, {"mask: expected float values, got no data"}));
}

TEST(KernelNames, NamesAndParsing) {
  EXPECT_EQ(kernel_name(KernelKind::reference), "reference");
  EXPECT_EQ(kernel_name(KernelKind::cpu), "cpu");
  EXPECT_EQ(parse_kernel("ref"), KernelKind::reference);
  EXPECT_EQ(parse_kernel("reference"), KernelKind::reference);
  EXPECT_EQ(parse_kernel("cpu"), KernelKind::cpu);
  for (const KernelKind kind : {KernelKind::reference, KernelKind::cpu})
    EXPECT_EQ(parse_kernel(kernel_name(kind)), kind);
}

TEST(KernelNames, UnknownNameIsAnErrorNamingTheArgument) {
  EXPECT_TRUE(throws_error([] { (void)parse_kernel("gpu"); }, {"kernel: expected one of ref, cpu", "got 'gpu'"}));
  EXPECT_TRUE(throws_error([] { (void)parse_kernel("", "--kernel"); }, {"--kernel: expected", "got ''"}));
  EXPECT_TRUE(throws_error([] { (void)parse_kernel("CPU"); }, {"got 'CPU'"}));  // case matters
}

TEST(LinearValidation, ShapesAreChecked) {
  const Tensor<> x({2, 3, 4}), w({5, 4}), b({5});
  Tensor<> y({2, 3, 5});
  EXPECT_NO_THROW(linear({.x = x.view(), .weight = w.view(), .bias = b.view(), .y = y.view()}));
  const Tensor<> w_bad({5, 3});
  EXPECT_TRUE(throws_error([&] { linear({.x = x.view(), .weight = w_bad.view(), .bias = {}, .y = y.view()}); },
                           {"x: expected last dimension 3 (weight is [5, 3]), got [2, 3, 4]"}));
  const Tensor<> b_bad({4});
  EXPECT_TRUE(throws_error([&] { linear({.x = x.view(), .weight = w.view(), .bias = b_bad.view(), .y = y.view()}); },
                           {"bias: expected shape [5], got [4]"}));
  Tensor<> y_bad({2, 3, 4});
  EXPECT_TRUE(throws_error([&] { linear({.x = x.view(), .weight = w.view(), .bias = {}, .y = y_bad.view()}); },
                           {"y: expected shape [2, 3, 5], got [2, 3, 4]"}));
  EXPECT_TRUE(throws_error([&] { linear({.x = x.view_as({6, 4}), .weight = w.view(), .bias = {}, .y = y.view()}); },
                           {"x: expected a rank-3 view, got [6, 4]"}));
  EXPECT_TRUE(throws_error([&] { linear({.x = x.view(), .weight = b.view(), .bias = {}, .y = y.view()}); },
                           {"weight: expected a rank-2 view, got [5]"}));
}

}  // namespace
}  // namespace mha
