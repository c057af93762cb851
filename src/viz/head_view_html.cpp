#include "mha/viz/head_view_html.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "mha/core/error.hpp"
#include "viz/head_view_assets.hpp"

namespace mha::viz {
namespace {

// RFC 4648 base64 with padding.
std::string base64(const std::vector<std::uint8_t>& bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    const std::uint32_t chunk = std::uint32_t{bytes[i]} << 16 |
                                (left > 1 ? std::uint32_t{bytes[i + 1]} << 8 : 0U) |
                                (left > 2 ? std::uint32_t{bytes[i + 2]} : 0U);
    out += kAlphabet[chunk >> 18 & 63U];
    out += kAlphabet[chunk >> 12 & 63U];
    out += left > 1 ? kAlphabet[chunk >> 6 & 63U] : '=';
    out += left > 2 ? kAlphabet[chunk & 63U] : '=';
  }
  return out;
}

void append_little_endian(std::vector<std::uint8_t>& bytes, std::uint32_t value, int count) {
  for (int b = 0; b < count; ++b)
    bytes.push_back(static_cast<std::uint8_t>(value >> (8 * b) & 0xFFU));
}

// p ∈ [0, 1] → round(p · 65535); NaN and values outside [0, 1] are clamped (NaN → 0).
std::uint16_t quantize(float p) {
  const double clamped = p > 0 ? (p < 1 ? double(p) : 1.0) : 0.0;
  return static_cast<std::uint16_t>(std::lround(clamped * 65535.0));
}

std::string attention_base64(const std::vector<Tensor<>>& layers) {
  std::vector<std::uint8_t> bytes;
  for (const Tensor<>& layer : layers)
    for (const float p : layer.values()) append_little_endian(bytes, quantize(p), 2);
  return base64(bytes);
}

std::string float_base64(const std::vector<QueryKey>& layers, Tensor<> QueryKey::*member) {
  std::vector<std::uint8_t> bytes;
  for (const QueryKey& layer : layers)
    for (const float x : (layer.*member).values())
      append_little_endian(bytes, std::bit_cast<std::uint32_t>(x), 4);
  return base64(bytes);
}

// "[i]", built by appending (GCC 12 misreports "[" + std::to_string(i) under -Wrestrict).
std::string bracket(std::size_t i) {
  std::string out = "[";
  out += std::to_string(i);
  out += ']';
  return out;
}

void validate_importance(const HeadViewImportance& importance, std::size_t layers, Index heads) {
  const auto relations = static_cast<Index>(importance.relations.size());
  if (relations < 1) throw_invalid("importance.relations", "at least one relation", "none");
  const std::string shape = bracket(layers) + bracket(static_cast<std::size_t>(heads));
  if (importance.delta.size() != layers)
    throw_invalid("importance.delta", shape + bracket(static_cast<std::size_t>(relations)) + " (layers, heads, relations)",
                  std::to_string(importance.delta.size()) + " layers");
  if (importance.carries.size() != layers)
    throw_invalid("importance.carries", shape + " (layers, heads)", std::to_string(importance.carries.size()) + " layers");
  for (std::size_t n = 0; n < layers; ++n) {
    const std::string at = bracket(n);
    if (static_cast<Index>(importance.delta[n].size()) != heads)
      throw_invalid("importance.delta" + at, std::to_string(heads) + " heads", std::to_string(importance.delta[n].size()));
    if (static_cast<Index>(importance.carries[n].size()) != heads)
      throw_invalid("importance.carries" + at, std::to_string(heads) + " heads",
                    std::to_string(importance.carries[n].size()));
    for (std::size_t h = 0; h < importance.delta[n].size(); ++h) {
      const std::string where = at + bracket(h);
      const std::vector<double>& delta = importance.delta[n][h];
      if (static_cast<Index>(delta.size()) != relations)
        throw_invalid("importance.delta" + where, std::to_string(relations) + " relations", std::to_string(delta.size()));
      for (const double d : delta)
        if (!std::isfinite(d)) throw_invalid("importance.delta" + where, "finite numbers", std::to_string(d));
      const Index carries = importance.carries[n][h];
      if (carries < -1 || carries >= relations)
        throw_invalid("importance.carries" + where, "−1 (none) or a relation index in [0, " + std::to_string(relations) + ")",
                      std::to_string(carries));
    }
  }
}

void validate(const HeadViewData& data) {
  const auto length = static_cast<Index>(data.tokens.size());
  if (length == 0) throw_invalid("tokens", "at least one token", "none");
  if (data.attention.empty()) throw_invalid("attention", "at least one layer", "none");
  const Index heads = data.attention.front().rank() == 3 ? data.attention.front().dim(0) : 0;
  for (std::size_t n = 0; n < data.attention.size(); ++n) {
    const Shape expected{heads, length, length};
    if (heads < 1 || data.attention[n].shape() != expected)
      throw_invalid("attention[" + std::to_string(n) + "]",
                    "shape [H, L, L] with L = " + std::to_string(length) +
                        " tokens and the same H for every layer" +
                        (heads >= 1 ? " (" + shape_str(expected) + ")" : ""),
                    shape_str(data.attention[n].shape()));
  }
  if (data.focus && (*data.focus < 0 || *data.focus >= length))
    throw_invalid("focus", "a token index in [0, " + std::to_string(length) + ")", std::to_string(*data.focus));
  if (data.importance) validate_importance(*data.importance, data.attention.size(), heads);
  if (data.query_key.empty()) return;
  if (data.query_key.size() != data.attention.size())
    throw_invalid("query_key",
                  "none or one entry per layer (" + std::to_string(data.attention.size()) + ")",
                  std::to_string(data.query_key.size()));
  const Index head_dim =
      data.query_key.front().queries.rank() == 3 ? data.query_key.front().queries.dim(2) : 0;
  for (std::size_t n = 0; n < data.query_key.size(); ++n) {
    const Shape expected{heads, length, head_dim};
    for (const auto& [tensor, name] : {std::pair{&data.query_key[n].queries, "queries"},
                                       std::pair{&data.query_key[n].keys, "keys"}})
      if (head_dim < 1 || tensor->shape() != expected)
        throw_invalid(
            "query_key[" + std::to_string(n) + "]." + name,
            "shape [H, L, D] = " + shape_str(expected) + " with the same D for every layer",
            shape_str(tensor->shape()));
  }
}

// Makes JSON text safe inside <script>…</script>: '<', '>' and '&' can only occur inside JSON
// strings, where \u escapes mean the same characters, so the HTML parser never sees "</script"
// or "<!--". U+2028 and U+2029 are escaped too (they end lines in older JavaScript parsers).
std::string escape_for_script(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
             (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else
      out += c;
  }
  return out;
}

}  // namespace

std::string head_view_json(const HeadViewData& data) {
  validate(data);
  nlohmann::json j = {
      {"format", "mha-head-view/1"},
      {"title", data.title},
      {"tokens", data.tokens},
      {"layers", data.attention.size()},
      {"heads", data.attention.front().dim(0)},
      {"attention", attention_base64(data.attention)},
      {"queryKey", nullptr},
  };
  if (!data.query_key.empty()) {
    std::vector<double> scales;
    for (const QueryKey& layer : data.query_key) scales.push_back(layer.scale);
    j["queryKey"] = {{"headDim", data.query_key.front().queries.dim(2)},
                     {"scales", scales},
                     {"queries", float_base64(data.query_key, &QueryKey::queries)},
                     {"keys", float_base64(data.query_key, &QueryKey::keys)}};
  }
  j["focus"] = data.focus ? nlohmann::json(*data.focus) : nlohmann::json(nullptr);
  j["importance"] = nullptr;
  if (data.importance) {
    const HeadViewImportance& importance = *data.importance;
    nlohmann::json carries = nlohmann::json::array();
    for (const std::vector<Index>& layer : importance.carries) {
      nlohmann::json row = nlohmann::json::array();
      for (const Index c : layer) row.push_back(c < 0 ? nlohmann::json(nullptr) : nlohmann::json(c));
      carries.push_back(std::move(row));
    }
    j["importance"] = {{"note", importance.note},
                       {"relations", importance.relations},
                       {"delta", importance.delta},
                       {"carries", carries}};
  }
  // Invalid UTF-8 in a token becomes U+FFFD rather than an exception.
  return escape_for_script(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void write_head_view_html(const HeadViewData& data, std::ostream& out) {
  const std::string json = head_view_json(data);
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // No request of any kind: only the page's own inline style and script may run.
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>mha head view</title>\n<style>" << assets::head_view_style()
      << "</style>\n</head>\n<body>" << assets::head_view_body()
      << "<script type=\"application/json\" id=\"head-view-data\">" << json << "</script>\n"
      << "<script>" << assets::head_view_script() << "</script>\n</body>\n</html>\n";
  if (!out) throw Error("head view: writing the page failed");
}

}  // namespace mha::viz
