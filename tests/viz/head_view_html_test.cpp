// The head view page: self-contained, escaped, and carrying exactly the data it was given.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/viz/head_view_html.hpp"
#include "cli/run_cli.hpp"
#include "testing/expect_error.hpp"

namespace mha::viz {
namespace {

using mha::testing::count_occurrences;

std::vector<std::uint8_t> from_base64(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> bytes;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') break;
    bits = bits << 6 | static_cast<std::uint32_t>(alphabet.find(c));
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push_back(static_cast<std::uint8_t>(bits >> count & 0xFFU));
    }
  }
  return bytes;
}

// One layer, two heads, three tokens (one hostile), queries and keys of size 2.
HeadViewData small_view() {
  HeadViewData data;
  data.title = "a </script> title";
  data.tokens = {"[CLS]", "</script><script>alert(1)</script>", "line\u2028break & more"};
  data.attention.emplace_back(Shape{2, 3, 3});
  for (Index i = 0; i < 18; ++i) data.attention[0].data()[i] = float(i % 3) / 3.0F;
  data.attention[0].data()[0] = 1.0F;
  QueryKey qk{.queries = Tensor<>({2, 3, 2}), .keys = Tensor<>({2, 3, 2}), .scale = 0.5};
  for (Index i = 0; i < 12; ++i) {
    qk.queries.data()[i] = 0.25F * float(i) - 1.0F;
    qk.keys.data()[i] = -0.5F * float(i);
  }
  data.query_key.push_back(std::move(qk));
  return data;
}

std::string page_of(const HeadViewData& data) {
  std::ostringstream out;
  write_head_view_html(data, out);
  return out.str();
}

TEST(HeadViewHtml, DataBlockCannotBeClosedByATokenAndNothingIsFetched) {
  const std::string page = page_of(small_view());
  // Two script elements (data, code), each closed once; the hostile token adds none.
  EXPECT_EQ(count_occurrences(page, "<script"), 2);
  EXPECT_EQ(count_occurrences(page, "</script"), 2);
  EXPECT_EQ(page.find("\u2028"), std::string::npos);
  EXPECT_NE(page.find("\\u003c/script\\u003e"), std::string::npos);
  for (const char* external : {"http:", "https:", "src=", "href=", "url(", "@import", "<link",
                               "fetch(", "XMLHttpRequest", "innerHTML", "eval("})
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
}

TEST(HeadViewHtml, JsonRoundTripsTokensWeightsQueriesAndKeys) {
  const HeadViewData data = small_view();
  const nlohmann::json j = nlohmann::json::parse(head_view_json(data));
  EXPECT_EQ(j.at("tokens").get<std::vector<std::string>>(), data.tokens);
  EXPECT_EQ(j.at("title"), data.title);
  EXPECT_EQ(j.at("layers"), 1);
  EXPECT_EQ(j.at("heads"), 2);
  const std::vector<std::uint8_t> weights = from_base64(j.at("attention").get<std::string>());
  ASSERT_EQ(weights.size(), 18U * 2U);
  for (std::size_t i = 0; i < 18; ++i) {
    const unsigned q = weights[2 * i] | unsigned(weights[2 * i + 1]) << 8;  // little-endian
    EXPECT_NEAR(q / 65535.0, data.attention[0].data()[i], 0.5 / 65535.0) << i;
  }
  const nlohmann::json& qk = j.at("queryKey");
  EXPECT_EQ(qk.at("headDim"), 2);
  EXPECT_EQ(qk.at("scales"), nlohmann::json({0.5}));
  const std::vector<std::uint8_t> keys = from_base64(qk.at("keys").get<std::string>());
  ASSERT_EQ(keys.size(), 12U * 4U);
  for (std::size_t i = 0; i < 12; ++i) {
    std::uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) bits |= std::uint32_t{keys[4 * i + std::size_t(b)]} << (8 * b);
    float value = 0;
    std::memcpy(&value, &bits, 4);
    EXPECT_EQ(value, data.query_key[0].keys.data()[i]) << i;
  }
}

TEST(HeadViewHtml, WithoutQueryKeyTheBlockSaysSo) {
  HeadViewData data = small_view();
  data.query_key.clear();
  EXPECT_TRUE(nlohmann::json::parse(head_view_json(data)).at("queryKey").is_null());
}

TEST(HeadViewHtml, RejectsInconsistentData) {
  HeadViewData no_tokens = small_view();
  no_tokens.tokens.clear();
  EXPECT_THROW(page_of(no_tokens), Error);
  HeadViewData no_layers = small_view();
  no_layers.attention.clear();
  EXPECT_THROW(page_of(no_layers), Error);
  HeadViewData wrong_length = small_view();
  wrong_length.tokens.pop_back();
  EXPECT_THROW(page_of(wrong_length), Error);
  HeadViewData other_heads = small_view();
  other_heads.attention.emplace_back(Shape{3, 3, 3});
  EXPECT_THROW(page_of(other_heads), Error);
  HeadViewData missing_qk = small_view();
  missing_qk.attention.push_back(missing_qk.attention[0]);
  try {
    page_of(missing_qk);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("query_key"), std::string::npos) << e.what();
  }
  HeadViewData bad_keys = small_view();
  bad_keys.query_key[0].keys = Tensor<>({2, 3, 3});
  EXPECT_THROW(page_of(bad_keys), Error);
}

// One layer of two heads: head 1 carries relation 1, head 2 nothing.
HeadViewImportance small_importance() {
  return {.note = "Δ loss when removed", .relations = {"verb", "pp_noun </script>"},
          .delta = {{{0.01, 0.5}, {0.0, -0.002}}}, .carries = {{1, -1}}};
}

TEST(HeadViewHtml, WithoutFocusAndImportanceTheFieldsAreNull) {
  const nlohmann::json j = nlohmann::json::parse(head_view_json(small_view()));
  EXPECT_TRUE(j.at("focus").is_null());
  EXPECT_TRUE(j.at("importance").is_null());
}

TEST(HeadViewHtml, DataBlockCarriesFocusAndImportance) {
  HeadViewData data = small_view();
  data.focus = 2;
  data.importance = small_importance();
  const std::string json = head_view_json(data);
  EXPECT_EQ(json.find("</script"), std::string::npos);  // a relation name is escaped like a token
  const nlohmann::json j = nlohmann::json::parse(json);
  EXPECT_EQ(j.at("focus"), 2);
  const nlohmann::json& importance = j.at("importance");
  EXPECT_EQ(importance.at("note"), "Δ loss when removed");
  EXPECT_EQ(importance.at("relations"), nlohmann::json({"verb", "pp_noun </script>"}));
  EXPECT_EQ(importance.at("delta"), nlohmann::json({{{0.01, 0.5}, {0.0, -0.002}}}));
  EXPECT_EQ(importance.at("carries"), nlohmann::json::parse("[[1, null]]"));
  const std::string page = page_of(data);
  EXPECT_EQ(count_occurrences(page, "</script"), 2);
  EXPECT_NE(page.find("id=\"clear-focus\""), std::string::npos);
  EXPECT_NE(page.find("id=\"importance-note\""), std::string::npos);
}

TEST(HeadViewHtml, RejectsABadFocusOrImportance) {
  using mha::testing::throws_error;
  HeadViewData far = small_view();
  far.focus = 3;
  EXPECT_TRUE(throws_error([&] { page_of(far); }, {"focus", "[0, 3)", "got 3"}));
  HeadViewData negative = small_view();
  negative.focus = -1;
  EXPECT_TRUE(throws_error([&] { page_of(negative); }, {"focus"}));
  HeadViewData layers = small_view();
  layers.importance = small_importance();
  layers.importance->delta.push_back(layers.importance->delta[0]);
  EXPECT_TRUE(throws_error([&] { page_of(layers); }, {"importance.delta", "[1][2][2]", "got 2 layers"}));
  HeadViewData heads = small_view();
  heads.importance = small_importance();
  heads.importance->carries[0].pop_back();
  EXPECT_TRUE(throws_error([&] { page_of(heads); }, {"importance.carries[0]", "2 heads"}));
  HeadViewData relations = small_view();
  relations.importance = small_importance();
  relations.importance->delta[0][1].push_back(0.1);
  EXPECT_TRUE(throws_error([&] { page_of(relations); }, {"importance.delta[0][1]", "2 relations"}));
  HeadViewData not_finite = small_view();
  not_finite.importance = small_importance();
  not_finite.importance->delta[0][0][0] = std::nan("");
  EXPECT_TRUE(throws_error([&] { page_of(not_finite); }, {"importance.delta[0][0]", "finite"}));
  HeadViewData carries = small_view();
  carries.importance = small_importance();
  carries.importance->carries[0][0] = 2;
  EXPECT_TRUE(throws_error([&] { page_of(carries); }, {"importance.carries[0][0]", "got 2"}));
  HeadViewData none = small_view();
  none.importance = small_importance();
  none.importance->relations.clear();
  EXPECT_TRUE(throws_error([&] { page_of(none); }, {"importance.relations"}));
}

}  // namespace
}  // namespace mha::viz
