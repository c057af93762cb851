// Head analysis: top key, margin, entropies, ranking by target, and token lookup.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/viz/head_analysis.hpp"

namespace mha::viz {
namespace {

// Two heads over three tokens: head 0 is sharp (query 1 looks at key 2), head 1 is uniform.
Tensor<> two_heads() {
  const float third = 1.0F / 3.0F;
  return Tensor<>({2, 3, 3}, {1.0F, 0.0F, 0.0F,  //
                              0.1F, 0.2F, 0.7F,  //
                              0.0F, 0.5F, 0.5F,  //
                              third, third, third, third, third, third, third, third, third});
}

TEST(HeadAnalysis, RowEntropyIsZeroForOneKeyAndLogNForUniform) {
  EXPECT_DOUBLE_EQ(row_entropy(std::vector<float>{0.0F, 1.0F, 0.0F}), 0.0);
  EXPECT_NEAR(row_entropy(std::vector<float>{0.25F, 0.25F, 0.25F, 0.25F}), std::log(4.0), 1e-7);
}

TEST(HeadAnalysis, FocusGivesTopKeyMarginAndEntropies) {
  const Tensor<> w = two_heads();
  const std::vector<HeadFocus> heads = analyze_focus(w.view(), 1);
  ASSERT_EQ(heads.size(), 2U);
  EXPECT_EQ(heads[0].head, 0);
  EXPECT_EQ(heads[0].top_key, 2);
  EXPECT_FLOAT_EQ(heads[0].top_weight, 0.7F);
  EXPECT_FLOAT_EQ(heads[0].margin, 0.5F);
  const double row = -(0.1 * std::log(0.1) + 0.2 * std::log(0.2) + 0.7 * std::log(0.7));
  EXPECT_NEAR(heads[0].focus_entropy, row, 1e-6);
  // Mean over queries: rows with entropies 0, `row` and ln 2.
  EXPECT_NEAR(heads[0].mean_entropy, (0.0 + row + std::log(2.0)) / 3.0, 1e-6);
  // Uniform head: the earliest key wins the tie, with margin 0 and entropy ln 3.
  EXPECT_EQ(heads[1].top_key, 0);
  EXPECT_FLOAT_EQ(heads[1].margin, 0.0F);
  EXPECT_NEAR(heads[1].focus_entropy, std::log(3.0), 1e-6);
  EXPECT_NEAR(heads[1].mean_entropy, std::log(3.0), 1e-6);
}

TEST(HeadAnalysis, RanksHeadsByWeightToTarget) {
  const Tensor<> w = two_heads();
  const std::vector<HeadTargetWeight> to_key0 = rank_heads_by_target(w.view(), 1, 0);
  ASSERT_EQ(to_key0.size(), 2U);
  EXPECT_EQ(to_key0[0].head, 1);  // 1/3 beats 0.1
  EXPECT_EQ(to_key0[0].rank_in_row, 1);
  EXPECT_EQ(to_key0[1].head, 0);
  EXPECT_FLOAT_EQ(to_key0[1].weight, 0.1F);
  EXPECT_EQ(to_key0[1].rank_in_row, 3);  // 0.7 and 0.2 are stronger
  const std::vector<HeadTargetWeight> to_key2 = rank_heads_by_target(w.view(), 1, 2);
  EXPECT_EQ(to_key2[0].head, 0);
  EXPECT_EQ(to_key2[0].rank_in_row, 1);
}

TEST(HeadAnalysis, RejectsBadShapesAndIndices) {
  const Tensor<> w = two_heads();
  EXPECT_THROW(analyze_focus(w.view_as({6, 3}), 0), Error);
  EXPECT_THROW(analyze_focus(w.view(), 3), Error);
  EXPECT_THROW(rank_heads_by_target(w.view(), 0, -1), Error);
}

TEST(HeadAnalysis, FindsTokensByTextCaseOrPosition) {
  const std::vector<std::string> tokens = {"[CLS]", "the", "man", "the", "[SEP]"};
  EXPECT_EQ(find_token(tokens, "the", "--focus"), 1);  // first occurrence
  EXPECT_EQ(find_token(tokens, "MAN", "--focus"), 2);
  EXPECT_EQ(find_token(tokens, "#3", "--focus"), 3);
  EXPECT_EQ(find_token(tokens, "[sep]", "--focus"), 4);
  try {
    find_token(tokens, "telescope", "--focus");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--focus"), std::string::npos) << message;
    EXPECT_NE(message.find("'telescope'"), std::string::npos) << message;
    EXPECT_NE(message.find("[CLS] the man the [SEP]"), std::string::npos) << message;
  }
  EXPECT_THROW(find_token(tokens, "#5", "--focus"), Error);
  EXPECT_THROW(find_token(tokens, "#x", "--focus"), Error);
}

}  // namespace
}  // namespace mha::viz
