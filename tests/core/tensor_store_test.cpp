// TensorLayout and TensorStore: offsets on cache lines, lookups by name and index, deep copies,
// and the named errors of check_layout.
#include <gtest/gtest.h>

#include <memory>

#include "mha/core/tensor_store.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

std::shared_ptr<TensorLayout> two_tensors() {
  auto layout = std::make_shared<TensorLayout>();
  layout->add("b.weight", {3, 5});
  layout->add("a.bias", {3});
  return layout;
}

TEST(TensorLayout, OffsetsStartOnCacheLinesAndNamesAreUnique) {
  const auto layout = two_tensors();
  EXPECT_EQ(layout->entry(0).offset, 0);
  EXPECT_EQ(layout->entry(1).offset, 16);  // 15 floats rounded up to 16
  EXPECT_EQ(layout->total_floats(), 19);
  EXPECT_EQ(layout->parameter_count(), 18);
  EXPECT_EQ(layout->find("a.bias"), 1);
  EXPECT_FALSE(layout->find("c"));
  EXPECT_EQ(layout->by_name(), (std::vector<Index>{1, 0}));
  EXPECT_TRUE(testing::throws_error([&] { layout->add("a.bias", {1}); },
                                    {"a.bias: expected one tensor of that name, got a second one"}));
}

TEST(TensorStore, ViewsAreZeroedAlignedAndCopiesAreDeep) {
  TensorStore store(two_tensors());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(store[1].data()) % 64, 0u);
  EXPECT_EQ(store.at("b.weight").shape(), (Shape{3, 5}));
  for (const float x : store.values()) EXPECT_EQ(x, 0.0f);
  store.at("a.bias")(2) = 4;
  const TensorStore copy = store;
  store.at("a.bias")(2) = 5;
  EXPECT_EQ(copy.at("a.bias")(2), 4.0f);
  EXPECT_TRUE(testing::throws_error([&] { (void)store.at("missing"); },
                                    {"missing: expected a tensor of the model, got no tensor of that name"}));
}

TEST(CheckLayout, NamesTheFirstDifference) {
  const auto expected = two_tensors();
  auto reshaped = std::make_shared<TensorLayout>();
  reshaped->add("b.weight", {3, 4});
  reshaped->add("a.bias", {3});
  EXPECT_TRUE(testing::throws_error([&] { check_layout(TensorStore(reshaped), *expected, "params"); },
                                    {"b.weight: expected shape [3, 5], got [3, 4]"}));
  auto missing = std::make_shared<TensorLayout>();
  missing->add("b.weight", {3, 5});
  EXPECT_TRUE(testing::throws_error([&] { check_layout(TensorStore(missing), *expected, "params"); },
                                    {"a.bias: expected a tensor of shape [3], got missing"}));
  auto reordered = std::make_shared<TensorLayout>();
  reordered->add("a.bias", {3});
  reordered->add("b.weight", {3, 5});
  EXPECT_TRUE(testing::throws_error([&] { check_layout(TensorStore(reordered), *expected, "params"); },
                                    {"params: expected the model's tensor order"}));
  EXPECT_TRUE(testing::throws_error([&] { check_layout(TensorStore(), *expected, "params"); },
                                    {"params: expected the model's 2 tensors, got none"}));
  check_layout(TensorStore(two_tensors()), *expected, "params");
}

}  // namespace
}  // namespace mha
