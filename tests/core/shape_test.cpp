// shape_str, numel_of, contiguous_strides.
#include "mha/core/shape.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

TEST(ShapeStr, PrintsBracketedCommaSeparatedExtents) {
  EXPECT_EQ(shape_str(Shape{}), "[]");
  EXPECT_EQ(shape_str(Shape{7}), "[7]");
  EXPECT_EQ(shape_str(Shape{2, 5}), "[2, 5]");
  EXPECT_EQ(shape_str(Shape{1, 0, 3}), "[1, 0, 3]");
  EXPECT_EQ(shape_str(Shape{-1, 4}), "[-1, 4]");
}

TEST(NumelOf, MultipliesTheExtents) {
  EXPECT_EQ(numel_of(Shape{}), 1);
  EXPECT_EQ(numel_of(Shape{5}), 5);
  EXPECT_EQ(numel_of(Shape{2, 3, 4}), 24);
  EXPECT_EQ(numel_of(Shape{2, 0, 4}), 0);
  EXPECT_EQ(numel_of(Shape{0, Index{1} << 62, 4}), 0);  // a zero first never overflows
}

TEST(NumelOf, LargestCountThatFitsIsAccepted) {
  const Index max = std::numeric_limits<Index>::max();
  EXPECT_EQ(numel_of(Shape{max}), max);
  EXPECT_EQ(numel_of(Shape{Index{1} << 31, Index{1} << 31}), Index{1} << 62);
}

TEST(NumelOf, OverflowIsAnErrorNotWraparound) {
  EXPECT_TRUE(throws_error([] { (void)numel_of(Shape{Index{1} << 32, Index{1} << 32}); },
                           {"shape: expected an element count that fits in 64 bits, got [4294967296, 4294967296]"}));
  EXPECT_TRUE(throws_error([] { (void)numel_of(Shape{3, std::numeric_limits<Index>::max() / 2}); },
                           {"fits in 64 bits"}));
}

TEST(NumelOf, NegativeExtentIsAnError) {
  EXPECT_TRUE(throws_error([] { (void)numel_of(Shape{2, -1}); },
                           {"shape: expected non-negative extents, got [2, -1]"}));
  EXPECT_TRUE(throws_error([] { (void)numel_of(Shape{0, -3}); }, {"non-negative", "[0, -3]"}));
}

TEST(ContiguousStrides, RowMajorInElements) {
  EXPECT_EQ(contiguous_strides(Shape{}), Shape{});
  EXPECT_EQ(contiguous_strides(Shape{5}), Shape{1});
  EXPECT_EQ(contiguous_strides(Shape{2, 3, 4}), (Shape{12, 4, 1}));
  // A zero extent does not collapse the strides of the dimensions before it.
  EXPECT_EQ(contiguous_strides(Shape{2, 0, 3}), (Shape{3, 3, 1}));
}

}  // namespace
}  // namespace mha
