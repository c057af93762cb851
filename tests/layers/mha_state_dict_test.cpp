// load_mha_state_dict / add_mha_state_dict in-process: what the tensors imply, and the errors.
#include "mha/layers/mha_state_dict.hpp"

#include <gtest/gtest.h>

#include <string>

#include "testing/allclose.hpp"

namespace mha {
namespace {

SafetensorsFile file_of(const SafetensorsWriter& w) {
  return SafetensorsFile::from_bytes(w.bytes());
}

// The error message of load_mha_state_dict on `w` ("" when it loads).
std::string load_error(const SafetensorsWriter& w, Index heads) {
  try {
    load_mha_state_dict(file_of(w), {.num_heads = heads});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MhaStateDict, RoundTripDerivesTheConfig) {
  const MultiHeadAttention layer = MultiHeadAttention::random(
      {.embed_dim = 6, .num_heads = 2, .kdim = 3, .vdim = 5, .bias = false, .add_bias_kv = true},
      5);
  SafetensorsWriter w;
  add_mha_state_dict(w, layer.weights(), "enc.attn.");
  const MultiHeadAttention loaded = load_mha_state_dict(
      file_of(w),
      {.num_heads = 3, .batch_first = true, .add_zero_attn = true, .prefix = "enc.attn."});
  const MhaConfig& c = loaded.config();
  EXPECT_EQ(c.embed_dim, 6);
  EXPECT_EQ(c.num_heads, 3);
  EXPECT_EQ(c.kdim, 3);
  EXPECT_EQ(c.vdim, 5);
  EXPECT_FALSE(c.bias);
  EXPECT_TRUE(c.add_bias_kv);
  EXPECT_TRUE(c.add_zero_attn);
  EXPECT_TRUE(c.batch_first);
  EXPECT_FALSE(loaded.weights().in_proj_weight.defined());
  EXPECT_TRUE(testing::all_close(loaded.weights().k_proj_weight.view(),
                                 layer.weights().k_proj_weight.view(), 0.0));
  EXPECT_TRUE(
      testing::all_close(loaded.weights().bias_v.view(), layer.weights().bias_v.view(), 0.0));
}

TEST(MhaStateDict, ErrorsNameTheTensor) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 4, .num_heads = 2}, 6);
  const MhaWeights& weights = layer.weights();

  SafetensorsWriter empty;
  EXPECT_NE(load_error(empty, 2).find("in_proj_weight"), std::string::npos);

  SafetensorsWriter no_out_bias;
  no_out_bias.add("in_proj_weight", weights.in_proj_weight.view());
  no_out_bias.add("in_proj_bias", weights.in_proj_bias.view());
  no_out_bias.add("out_proj.weight", weights.out_proj_weight.view());
  EXPECT_NE(load_error(no_out_bias, 2).find("out_proj.bias"), std::string::npos);
  EXPECT_NE(load_error(no_out_bias, 3).find("num_heads"), std::string::npos);

  SafetensorsWriter only_q;
  only_q.add("q_proj_weight", weights.out_proj_weight.view());
  only_q.add("out_proj.weight", weights.out_proj_weight.view());
  EXPECT_NE(load_error(only_q, 2).find("k_proj_weight"), std::string::npos);

  SafetensorsWriter both = only_q;
  both.add("in_proj_weight", weights.in_proj_weight.view());
  EXPECT_NE(load_error(both, 2).find("both"), std::string::npos);

  SafetensorsWriter half_bias_kv;
  half_bias_kv.add("in_proj_weight", weights.in_proj_weight.view());
  half_bias_kv.add("out_proj.weight", weights.out_proj_weight.view());
  half_bias_kv.add("bias_k", Tensor<>({1, 1, 4}).view());
  EXPECT_NE(load_error(half_bias_kv, 2).find("bias_v"), std::string::npos);

  SafetensorsWriter wrong_rank;
  wrong_rank.add("in_proj_weight", Tensor<>({48}).view());
  wrong_rank.add("out_proj.weight", weights.out_proj_weight.view());
  EXPECT_NE(load_error(wrong_rank, 2).find("in_proj_weight: expected a rank-2"), std::string::npos);

  SafetensorsWriter int_weight;
  int_weight.add("in_proj_weight", Tensor<std::int64_t>({12, 4}).view());
  int_weight.add("out_proj.weight", weights.out_proj_weight.view());
  EXPECT_NE(load_error(int_weight, 2).find("in_proj_weight: expected dtype F32"),
            std::string::npos);
}

}  // namespace
}  // namespace mha
