// TransformerConfig checks and JSON, the parameter list and its seeded initialisation.
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "core/uniform_fill.hpp"
#include "mha/train/transformer.hpp"

namespace mha::train {
namespace {

void expect_at_least(Index value, Index least, const char* name) {
  if (value < least) throw_invalid(name, ">= " + std::to_string(least), std::to_string(value));
}

std::string layer_prefix(Index layer) { return "layers." + std::to_string(layer) + "."; }

// Upper bounds keep every size product (vocab·d, d·d_ff, 3·d·d) far from overflowing 64 bits
// whatever a checkpoint's metadata says; they are far above anything this trainer can train.
constexpr Index kMaxDimension = Index{1} << 20;
constexpr Index kMaxLayers = 1024;

void expect_at_most(Index value, Index most, const char* name) {
  if (value > most) throw_invalid(name, "<= " + std::to_string(most), std::to_string(value));
}

}  // namespace

void validate(const TransformerConfig& c) {
  expect_at_most(c.vocab_size, kMaxDimension, "vocab_size");
  expect_at_most(c.d_model, kMaxDimension, "d_model");
  expect_at_most(c.d_ff, kMaxDimension, "d_ff");
  expect_at_most(c.max_length, kMaxDimension, "max_length");
  expect_at_most(c.num_layers, kMaxLayers, "num_layers");
  expect_at_least(c.vocab_size, 2, "vocab_size");
  expect_at_least(c.d_model, 1, "d_model");
  expect_at_least(c.num_heads, 1, "num_heads");
  expect_at_least(c.num_layers, 1, "num_layers");
  expect_at_least(c.d_ff, 1, "d_ff");
  expect_at_least(c.max_length, 1, "max_length");
  if (c.d_model % c.num_heads != 0)
    throw_invalid("num_heads", "a divisor of d_model " + std::to_string(c.d_model),
                  std::to_string(c.num_heads));
  if (!std::isfinite(c.layer_norm_eps) || c.layer_norm_eps <= 0)
    throw_invalid("layer_norm_eps", "a finite number > 0", std::to_string(c.layer_norm_eps));
}

std::string config_to_json(const TransformerConfig& c) {
  const nlohmann::json j = {{"vocab_size", c.vocab_size},
                            {"d_model", c.d_model},
                            {"num_heads", c.num_heads},
                            {"num_layers", c.num_layers},
                            {"d_ff", c.d_ff},
                            {"max_length", c.max_length},
                            {"norm", c.norm == NormPlacement::pre ? "pre" : "post"},
                            {"activation", std::string(activation_name(c.activation))},
                            {"layer_norm_eps", c.layer_norm_eps}};
  return j.dump();
}

TransformerConfig config_from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw_invalid("mha.config", "a JSON object", "'" + text.substr(0, 80) + "'");
  auto integer = [&](const char* key) -> Index {
    if (!j.contains(key) || !j[key].is_number_integer())
      throw_invalid(std::string("mha.config.") + key, "an integer", j.value(key, nlohmann::json()).dump());
    return j[key].get<Index>();
  };
  auto string = [&](const char* key) -> std::string {
    if (!j.contains(key) || !j[key].is_string())
      throw_invalid(std::string("mha.config.") + key, "a string", j.value(key, nlohmann::json()).dump());
    return j[key].get<std::string>();
  };
  TransformerConfig c;
  c.vocab_size = integer("vocab_size");
  c.d_model = integer("d_model");
  c.num_heads = integer("num_heads");
  c.num_layers = integer("num_layers");
  c.d_ff = integer("d_ff");
  c.max_length = integer("max_length");
  const std::string norm = string("norm");
  if (norm != "pre" && norm != "post") throw_invalid("mha.config.norm", "\"pre\" or \"post\"", norm);
  c.norm = norm == "pre" ? NormPlacement::pre : NormPlacement::post;
  c.activation = parse_activation(string("activation"), "mha.config.activation");
  if (!j.contains("layer_norm_eps") || !j["layer_norm_eps"].is_number())
    throw_invalid("mha.config.layer_norm_eps", "a number", "missing or not a number");
  c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  validate(c);
  return c;
}

std::vector<std::pair<std::string, Shape>> parameter_shapes(const TransformerConfig& c) {
  const Index d = c.d_model;
  std::vector<std::pair<std::string, Shape>> shapes = {{"embedding.weight", {c.vocab_size, d}}};
  for (Index l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    shapes.insert(shapes.end(), {{p + "self_attn.in_proj_weight", {3 * d, d}},
                                 {p + "self_attn.in_proj_bias", {3 * d}},
                                 {p + "self_attn.out_proj.weight", {d, d}},
                                 {p + "self_attn.out_proj.bias", {d}},
                                 {p + "linear1.weight", {c.d_ff, d}},
                                 {p + "linear1.bias", {c.d_ff}},
                                 {p + "linear2.weight", {d, c.d_ff}},
                                 {p + "linear2.bias", {d}},
                                 {p + "norm1.weight", {d}},
                                 {p + "norm1.bias", {d}},
                                 {p + "norm2.weight", {d}},
                                 {p + "norm2.bias", {d}}});
  }
  if (c.norm == NormPlacement::pre)
    shapes.insert(shapes.end(), {{"final_norm.weight", {d}}, {"final_norm.bias", {d}}});
  shapes.insert(shapes.end(), {{"lm_head.weight", {c.vocab_size, d}}, {"lm_head.bias", {c.vocab_size}}});
  return shapes;
}

Index parameter_count(const TransformerConfig& c) {
  Index total = 0;
  for (const auto& [name, shape] : parameter_shapes(c)) total += numel_of(shape);
  return total;
}

Parameters init_parameters(const TransformerConfig& c, std::uint64_t seed) {
  validate(c);
  std::mt19937_64 rng(seed);
  Parameters params;
  for (const auto& [name, shape] : parameter_shapes(c)) {
    Tensor<> t(shape);
    const bool norm_gain = name.ends_with("norm1.weight") || name.ends_with("norm2.weight") ||
                           name == "final_norm.weight";
    if (norm_gain) {
      for (float& x : t.values()) x = 1.0f;
    } else if (name == "embedding.weight") {
      // Variance 1/d (uniform with bound √(3/d)), so E[id]·√d has unit-variance entries, on the
      // scale of the positional encoding.
      fill_uniform(t, std::sqrt(3.0 / static_cast<double>(c.d_model)), rng);
    } else if (shape.size() == 2) {
      // Xavier-uniform: bound √(6 / (fan_in + fan_out)).
      fill_uniform(t, std::sqrt(6.0 / static_cast<double>(shape[0] + shape[1])), rng);
    }  // biases and β stay 0
    params.emplace(name, std::move(t));
  }
  return params;
}

void check_parameters(const TransformerConfig& c, const Parameters& params) {
  validate(c);
  const auto shapes = parameter_shapes(c);
  for (const auto& [name, shape] : shapes) {
    const auto it = params.find(name);
    if (it == params.end()) throw_invalid(name, "a tensor of shape " + shape_str(shape), "missing");
    if (!it->second.defined() || it->second.shape() != shape)
      throw_invalid(name, "shape " + shape_str(shape),
                    it->second.defined() ? shape_str(it->second.shape()) : "none");
  }
  if (params.size() != shapes.size())
    for (const auto& [name, tensor] : params) {
      bool known = false;
      for (const auto& entry : shapes) known = known || entry.first == name;
      if (!known) throw_invalid(name, "no such parameter in this config", "an extra tensor");
    }
}

}  // namespace mha::train
