// Tensor: owning, contiguous, 64-byte aligned, zero-filled storage.
#include "mha/core/tensor.hpp"

#include <cstdint>
#include <utility>

#include <gtest/gtest.h>

#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

template <class T>
bool aligned_64(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

TEST(Tensor, DefaultIsUndefined) {
  const Tensor<> t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.rank(), 0);
}

TEST(Tensor, StorageIs64ByteAlignedForEveryElementType) {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{1}, Shape{3}, Shape{7, 5}, Shape{2, 3, 129}}) {
    const Tensor<float> f(shape);
    const Tensor<double> d(shape);
    const Tensor<std::uint8_t> u(shape);
    EXPECT_TRUE(aligned_64(f.data())) << shape_str(shape);
    EXPECT_TRUE(aligned_64(d.data())) << shape_str(shape);
    EXPECT_TRUE(aligned_64(u.data())) << shape_str(shape);
    EXPECT_TRUE(f.defined());  // even with no elements: "present but empty"
  }
}

TEST(Tensor, NewTensorIsZeroFilled) {
  const Tensor<> t({4, 33});
  for (const float x : t.values()) EXPECT_EQ(x, 0.0f);
  const BoolTensor flags({17});
  for (const std::uint8_t x : flags.values()) EXPECT_EQ(x, 0);
}

TEST(Tensor, ScalarAndEmptyShapes) {
  const Tensor<> scalar(Shape{});
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.values().size(), 1u);
  const Tensor<> empty({3, 0});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.values().empty());
}

TEST(Tensor, InitializerListFillsRowMajor) {
  const Tensor<> t({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t(0, 0), 1.0f);
  EXPECT_EQ(t(0, 2), 3.0f);
  EXPECT_EQ(t(1, 0), 4.0f);
  EXPECT_EQ(t(1, 2), 6.0f);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_EQ(t.dim(-2), 2);
}

TEST(Tensor, InitializerListOfWrongSizeNamesBothCounts) {
  EXPECT_TRUE(throws_error([] { Tensor<>({2, 3}, {1, 2, 3, 4, 5}); },
                           {"values: expected 6 elements for shape [2, 3], got 5"}));
  EXPECT_TRUE(throws_error([] { Tensor<>({2}, {1, 2, 3}); },
                           {"values: expected 2 elements for shape [2], got 3"}));
}

TEST(Tensor, NegativeExtentIsRejected) {
  EXPECT_TRUE(throws_error([] { Tensor<>({2, -1}); }, {"shape: expected non-negative extents, got [2, -1]"}));
}

TEST(Tensor, CopyIsDeep) {
  Tensor<> a({2, 2}, {1, 2, 3, 4});
  const Tensor<> b(a);
  EXPECT_NE(a.data(), b.data());
  EXPECT_TRUE(aligned_64(b.data()));
  EXPECT_EQ(b.shape(), a.shape());
  a(0, 0) = 9;
  EXPECT_EQ(b(0, 0), 1.0f);
  EXPECT_EQ(b(1, 1), 4.0f);
}

TEST(Tensor, CopyOfAnAbsentTensorIsAbsent) {
  const Tensor<> absent;
  const Tensor<> copy(absent);
  EXPECT_FALSE(copy.defined());
  Tensor<> assigned({2});
  assigned = absent;
  EXPECT_FALSE(assigned.defined());
}

TEST(Tensor, AbsentTensorHasNoValues) {
  // An absent tensor must not offer a one-element span over a null pointer.
  Tensor<> absent;
  EXPECT_EQ(absent.numel(), 0);
  EXPECT_TRUE(absent.values().empty());
  EXPECT_TRUE(std::as_const(absent).values().empty());
}

TEST(Tensor, CopyAssignmentReplacesShapeAndData) {
  const Tensor<> a({3}, {1, 2, 3});
  Tensor<> b({2, 2});
  b = a;
  EXPECT_EQ(b.shape(), Shape{3});
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(b(2), 3.0f);
  Tensor<>& alias = b;
  b = alias;  // self-assignment keeps the contents
  EXPECT_EQ(b(2), 3.0f);
}

TEST(Tensor, MoveTransfersStorageWithoutCopy) {
  Tensor<> a({2, 2}, {1, 2, 3, 4});
  const float* storage = a.data();
  Tensor<> b(std::move(a));
  EXPECT_EQ(b.data(), storage);
  EXPECT_FALSE(a.defined());  // NOLINT(bugprone-use-after-move): moved-from is empty
  Tensor<> c;
  c = std::move(b);
  EXPECT_EQ(c.data(), storage);
  EXPECT_EQ(c(1, 0), 3.0f);
}

TEST(Tensor, CopyOfTransposedViewIsContiguous) {
  const Tensor<> a({2, 3}, {1, 2, 3, 4, 5, 6});
  const TensorView<const float> transposed(a.data(), {3, 2}, {1, 3});
  const Tensor<> t = Tensor<>::copy_of(transposed);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  const float expected[] = {1, 4, 2, 5, 3, 6};
  for (Index n = 0; n < 6; ++n) EXPECT_EQ(t.data()[n], expected[n]) << n;
}

TEST(Tensor, CopyOfBroadcastViewRepeatsTheRow) {
  const Tensor<> row({3}, {7, 8, 9});
  const Tensor<> t = Tensor<>::copy_of(TensorView<const float>(row.data(), {4, 3}, {0, 1}));
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 3; ++j) EXPECT_EQ(t(i, j), row(j));
}

TEST(Tensor, CopyOfPaddedViewSkipsThePadding) {
  // A 2 × 2 window of a 2 × 5 buffer: row stride 5.
  const Tensor<> buffer({2, 5}, {1, 2, -1, -1, -1, 3, 4, -1, -1, -1});
  const Tensor<> t = Tensor<>::copy_of(TensorView<const float>(buffer.data(), {2, 2}, {5, 1}));
  EXPECT_EQ(t.values()[0], 1.0f);
  EXPECT_EQ(t.values()[1], 2.0f);
  EXPECT_EQ(t.values()[2], 3.0f);
  EXPECT_EQ(t.values()[3], 4.0f);
}

TEST(Tensor, ViewAsSharesDataWithAnotherShape) {
  Tensor<> t({2, 3}, {1, 2, 3, 4, 5, 6});
  const TensorView<float> v = t.view_as({3, 2});
  EXPECT_EQ(v.data(), t.data());
  EXPECT_EQ(v(2, 1), 6.0f);
  v(0, 1) = 20;
  EXPECT_EQ(t(0, 1), 20.0f);
  const Tensor<>& ct = t;
  EXPECT_EQ(ct.view_as({6})(5), 6.0f);
}

TEST(Tensor, ViewAsWithAnotherElementCountFails) {
  Tensor<> t({2, 3});
  EXPECT_TRUE(throws_error([&] { (void)t.view_as({4}); },
                           {"shape: expected 6 elements (from [2, 3]), got [4]"}));
  const Tensor<>& ct = t;
  EXPECT_TRUE(throws_error([&] { (void)ct.view_as({7, 1}); }, {"expected 6 elements", "got [7, 1]"}));
}

TEST(Tensor, ViewIsContiguous) {
  Tensor<> t({2, 3, 4});
  EXPECT_TRUE(t.view().is_contiguous());
  EXPECT_EQ(t.view().strides(), (Shape{12, 4, 1}));
}

TEST(Tensor, ForEachIndexVisitsRowMajor) {
  std::vector<Shape> seen;
  Tensor<>::for_each_index(Shape{2, 2}, [&](std::span<const Index> idx) {
    seen.emplace_back(idx.begin(), idx.end());
  });
  EXPECT_EQ(seen, (std::vector<Shape>{{0, 0}, {0, 1}, {1, 0}, {1, 1}}));
  int visits = 0;
  Tensor<>::for_each_index(Shape{3, 0}, [&](std::span<const Index>) { ++visits; });
  EXPECT_EQ(visits, 0);
}

}  // namespace
}  // namespace mha
