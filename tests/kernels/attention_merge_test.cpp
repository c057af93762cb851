// merge_attention: attention over keys split into uneven blocks, merged block by block, equals
// attention over all keys — for the reference and the cpu kernel, with key padding that hides a
// whole block from some rows and a row that sees no key at all.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "mha/kernels/attention.hpp"
#include "mha/kernels/attention_merge.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

constexpr Index B = 2, H = 3, L = 5, S = 11, D = 4;

struct Result {
  Tensor<> out{{B, H, L, D}}, lse{{B, H, L}};
};

// Attention of q over keys [first, first + count) with the matching columns of the padding mask.
Result attend(const Tensor<>& q, const Tensor<>& k, const Tensor<>& v, const BoolTensor& padding,
              Index first, Index count, KernelKind kernel) {
  Result r;
  const Shape kv_strides = {H * S * D, S * D, D, 1};
  const TensorView<const float> k_block(k.data() + first * D, {B, H, count, D}, kv_strides);
  const TensorView<const float> v_block(v.data() + first * D, {B, H, count, D}, kv_strides);
  // padding [B, S] seen as [B, H, L, count]: stride 0 over heads and queries.
  const TensorView<const std::uint8_t> mask(padding.data() + first, {B, H, L, count}, {S, 0, 0, 1});
  attention({.q = q.view(), .k = k_block, .v = v_block, .out = r.out.view(), .weights = {}, .lse = r.lse.view(),
             .params = {.scale = 0.5, .masks = {block_mask(mask)}}},
            {.kernel = kernel, .threads = 2});
  return r;
}

TEST(MergeAttention, BlocksMergedEqualAllKeys) {
  const Tensor<> q = testing::random_tensor({B, H, L, D}, 1, -2, 2), k = testing::random_tensor({B, H, S, D}, 2, -2, 2),
                 v = testing::random_tensor({B, H, S, D}, 3);
  BoolTensor padding({B, S});
  for (Index j = 0; j < 4; ++j) padding(0, j) = 1;  // batch 0: the whole first block is padding
  for (Index j = 0; j < S; ++j) padding(1, j) = j % 3 == 1;
  for (const KernelKind kernel : {KernelKind::reference, KernelKind::cpu}) {
    SCOPED_TRACE(std::string(kernel_name(kernel)));
    const Result whole = attend(q, k, v, padding, 0, S, kernel);
    Result merged = attend(q, k, v, padding, 0, 4, kernel);
    for (const auto& [first, count] : {std::pair<Index, Index>{4, 1}, {5, 6}}) {
      const Result block = attend(q, k, v, padding, first, count, kernel);
      merge_attention(merged.out.view(), merged.lse.view(), block.out.view(), block.lse.view());
    }
    for (Index i = 0; i < whole.out.numel(); ++i)
      ASSERT_NEAR(merged.out.data()[i], whole.out.data()[i], 2e-6) << "out element " << i;
    for (Index i = 0; i < whole.lse.numel(); ++i)
      ASSERT_NEAR(merged.lse.data()[i], whole.lse.data()[i], 2e-6 * (1 + std::fabs(whole.lse.data()[i])))
          << "lse element " << i;
  }
}

TEST(MergeAttention, ARowThatSeesNoKeyStaysZeroWithMinusInfinity) {
  const Tensor<> q = testing::random_tensor({B, H, L, D}, 4), k = testing::random_tensor({B, H, S, D}, 5),
                 v = testing::random_tensor({B, H, S, D}, 6);
  BoolTensor padding({B, S});
  for (Index j = 0; j < S; ++j) padding(1, j) = 1;  // batch 1 sees nothing
  Result merged = attend(q, k, v, padding, 0, 6, KernelKind::reference);
  const Result rest = attend(q, k, v, padding, 6, 5, KernelKind::reference);
  merge_attention(merged.out.view(), merged.lse.view(), rest.out.view(), rest.lse.view());
  for (Index h = 0; h < H; ++h)
    for (Index i = 0; i < L; ++i) {
      EXPECT_EQ(merged.lse(1, h, i), -std::numeric_limits<float>::infinity());
      for (Index x = 0; x < D; ++x) EXPECT_EQ(merged.out(1, h, i, x), 0.0f);
      EXPECT_TRUE(std::isfinite(merged.lse(0, h, i)));
    }
}

TEST(MergeAttention, ShapesAreChecked) {
  Tensor<> out({1, 1, 2, 3}), lse({1, 1, 2}), other({1, 1, 2, 4});
  EXPECT_TRUE(testing::throws_error([&] { merge_attention(out.view(), lse.view(), other.view(), lse.view()); },
                                    {"other_out: expected shape [1, 1, 2, 3] (like out), got [1, 1, 2, 4]"}));
  Tensor<> short_lse({1, 1, 1});
  EXPECT_TRUE(testing::throws_error([&] { merge_attention(out.view(), short_lse.view(), out.view(), lse.view()); },
                                    {"lse: expected shape [1, 1, 2], got [1, 1, 1]"}));
}

}  // namespace
}  // namespace mha
