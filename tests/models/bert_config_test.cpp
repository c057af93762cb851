// config.json parsing: the fixture's values, the defaults, and a named error per kind of mistake.
#include <gtest/gtest.h>

#include "models/bert_fixture.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

TEST(BertConfig, ReadsTheFixtureConfig) {
  const BertConfig c = load_bert_config(bert_testing::fixture_dir() / "config.json");
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.head_dim(), 8);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.hidden_act, Activation::gelu);
  EXPECT_EQ(c.max_position_embeddings, 64);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.pad_token_id, 0);
}

TEST(BertConfig, AbsentFieldsKeepBertBaseDefaults) {
  const BertConfig c =
      parse_bert_config(R"({"architectures": ["BertModel"], "unknown_field": [1, 2]})");
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
}

TEST(BertConfig, ActivationsAndNullPadToken) {
  EXPECT_EQ(parse_bert_config(R"({"hidden_act": "gelu_new"})").hidden_act, Activation::gelu_tanh);
  EXPECT_EQ(parse_bert_config(R"({"hidden_act": "relu"})").hidden_act, Activation::relu);
  EXPECT_EQ(parse_bert_config(R"({"pad_token_id": null})").pad_token_id, -1);
}

TEST(BertConfig, UnknownActivationIsAnError) {
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"hidden_act": "swish"})"); },
                           {"config.json hidden_act: expected one of gelu", "got \"swish\""}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"hidden_act": 3})"); },
                           {"config.json hidden_act: expected a string", "got number 3"}));
}

TEST(BertConfig, RelativePositionsAreUnsupported) {
  for (const char* type : {"relative_key", "relative_key_query"})
    EXPECT_TRUE(throws_error(
        [&] { parse_bert_config(std::string(R"({"position_embedding_type": ")") + type + "\"}"); },
        {"config.json position_embedding_type: expected \"absolute\"", "not supported", type}));
}

TEST(BertConfig, HiddenSizeMustDivideIntoHeads) {
  EXPECT_TRUE(throws_error(
      [] { parse_bert_config(R"({"hidden_size": 30, "num_attention_heads": 4})"); },
      {"config.json hidden_size: expected a multiple of num_attention_heads (4)", "got 30"}));
}

TEST(BertConfig, WrongJsonTypesAndRangesNameTheField) {
  EXPECT_TRUE(throws_error(
      [] { parse_bert_config(R"({"hidden_size": "768"})"); },
      {"config.json hidden_size: expected an integer in [1, 2147483647]", "got string \"768\""}));
  EXPECT_TRUE(
      throws_error([] { parse_bert_config(R"({"num_hidden_layers": 2.5})"); },
                   {"config.json num_hidden_layers: expected an integer", "got number 2.5"}));
  EXPECT_TRUE(
      throws_error([] { parse_bert_config(R"({"vocab_size": 0})"); },
                   {"config.json vocab_size: expected an integer in [1, 2147483647]", "got 0"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"intermediate_size": 99999999999})"); },
                           {"config.json intermediate_size", "got 99999999999"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"num_attention_heads": -4})"); },
                           {"config.json num_attention_heads", "got -4"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"layer_norm_eps": "1e-12"})"); },
                           {"config.json layer_norm_eps: expected a number", "got string"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"layer_norm_eps": -1})"); },
                           {"config.json layer_norm_eps: expected a finite number > 0"}));
  EXPECT_TRUE(throws_error(
      [] { parse_bert_config(R"({"vocab_size": 10, "pad_token_id": 10})"); },
      {"config.json pad_token_id: expected null or an id in [0, vocab_size = 10)", "got 10"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"is_decoder": true})"); },
                           {"config.json is_decoder: expected false"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"model_type": "roberta"})"); },
                           {"config.json model_type: expected \"bert\"", "got \"roberta\""}));
}

TEST(BertConfig, NotAJsonObjectIsAnError) {
  EXPECT_TRUE(throws_error([] { parse_bert_config("{\"hidden_size\": 32"); },
                           {"config.json: expected valid JSON", "got a syntax error"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config("[1, 2]"); },
                           {"config.json: expected a JSON object", "got array"}));
  EXPECT_TRUE(throws_error([] { load_bert_config("/nonexistent/config.json"); },
                           {"/nonexistent/config.json"}));
}

}  // namespace
}  // namespace mha
