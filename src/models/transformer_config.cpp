// TransformerConfig checks and JSON, the tensor layout and its seeded initialisation.
#include <cmath>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <random>
#include <string>

#include "core/uniform_fill.hpp"
#include "mha/models/transformer.hpp"

namespace mha {
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
  if (c.d_ff < 0) throw_invalid("d_ff", ">= 0 (0: attention only, no feed-forward)", std::to_string(c.d_ff));
  expect_at_least(c.max_length, 1, "max_length");
  if (c.d_model % c.num_heads != 0)
    throw_invalid("num_heads", "a divisor of d_model " + std::to_string(c.d_model),
                  std::to_string(c.num_heads));
  if (!std::isfinite(c.layer_norm_eps) || c.layer_norm_eps <= 0)
    throw_invalid("layer_norm_eps", "a finite number > 0", std::to_string(c.layer_norm_eps));
}

std::string config_to_json(const TransformerConfig& c) {
  nlohmann::json j = {{"vocab_size", c.vocab_size},
                            {"d_model", c.d_model},
                            {"num_heads", c.num_heads},
                            {"num_layers", c.num_layers},
                            {"d_ff", c.d_ff},
                            {"max_length", c.max_length},
                            {"norm", c.norm == NormPlacement::pre ? "pre" : "post"},
                            {"activation", std::string(activation_name(c.activation))},
                            {"layer_norm_eps", c.layer_norm_eps}};
  // Written only when set, so an encoder's metadata (and so its checkpoint bytes) stays what it
  // was before the key existed; a missing key reads as false.
  if (c.causal) j["causal"] = true;
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
  if (j.contains("causal")) {
    if (!j["causal"].is_boolean()) throw_invalid("mha.config.causal", "true or false", j["causal"].dump());
    c.causal = j["causal"].get<bool>();
  }
  validate(c);
  return c;
}

TransformerTensors transformer_tensors(const TransformerConfig& c) {
  validate(c);
  const Index d = c.d_model;
  auto layout = std::make_shared<TensorLayout>();
  TransformerTensors t;
  t.embedding = layout->add("embedding.weight", {c.vocab_size, d});
  for (Index l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    TransformerBlockTensors b{};
    b.in_proj_weight = layout->add(p + "self_attn.in_proj_weight", {3 * d, d});
    b.in_proj_bias = layout->add(p + "self_attn.in_proj_bias", {3 * d});
    b.out_proj_weight = layout->add(p + "self_attn.out_proj.weight", {d, d});
    b.out_proj_bias = layout->add(p + "self_attn.out_proj.bias", {d});
    // Attention only (d_ff = 0): no feed-forward and no LN₂; their indices stay -1.
    if (c.d_ff > 0) {
      b.linear1_weight = layout->add(p + "linear1.weight", {c.d_ff, d});
      b.linear1_bias = layout->add(p + "linear1.bias", {c.d_ff});
      b.linear2_weight = layout->add(p + "linear2.weight", {d, c.d_ff});
      b.linear2_bias = layout->add(p + "linear2.bias", {d});
    }
    b.norm1_weight = layout->add(p + "norm1.weight", {d});
    b.norm1_bias = layout->add(p + "norm1.bias", {d});
    if (c.d_ff > 0) {
      b.norm2_weight = layout->add(p + "norm2.weight", {d});
      b.norm2_bias = layout->add(p + "norm2.bias", {d});
    }
    t.layers.push_back(b);
  }
  if (c.norm == NormPlacement::pre) {
    t.final_norm_weight = layout->add("final_norm.weight", {d});
    t.final_norm_bias = layout->add("final_norm.bias", {d});
  }
  t.lm_head_weight = layout->add("lm_head.weight", {c.vocab_size, d});
  t.lm_head_bias = layout->add("lm_head.bias", {c.vocab_size});
  t.layout = std::move(layout);
  return t;
}

Index parameter_count(const TransformerConfig& c) { return transformer_tensors(c).layout->parameter_count(); }

TensorStore init_parameters(const TransformerConfig& c, std::uint64_t seed) {
  const TransformerTensors t = transformer_tensors(c);
  std::mt19937_64 rng(seed);
  TensorStore params(t.layout);
  std::vector<bool> gain(static_cast<std::size_t>(t.layout->size()), false);
  for (const TransformerBlockTensors& b : t.layers) {
    gain[static_cast<std::size_t>(b.norm1_weight)] = true;
    if (b.norm2_weight >= 0) gain[static_cast<std::size_t>(b.norm2_weight)] = true;
  }
  if (t.final_norm_weight >= 0) gain[static_cast<std::size_t>(t.final_norm_weight)] = true;
  // In declaration order, so the draws do not depend on anything but the config and the seed.
  for (Index i = 0; i < t.layout->size(); ++i) {
    const Shape& shape = t.layout->entry(i).shape;
    const TensorView<float> view = params[i];
    const std::span<float> values(view.data(), static_cast<std::size_t>(view.numel()));
    if (gain[static_cast<std::size_t>(i)]) {
      std::fill(values.begin(), values.end(), 1.0f);
    } else if (i == t.embedding) {
      // Variance 1/d (uniform with bound √(3/d)), so E[id]·√d has unit-variance entries, on the
      // scale of the positional encoding.
      fill_uniform(values, std::sqrt(3.0 / static_cast<double>(c.d_model)), rng);
    } else if (shape.size() == 2) {
      // Xavier-uniform: bound √(6 / (fan_in + fan_out)).
      fill_uniform(values, std::sqrt(6.0 / static_cast<double>(shape[0] + shape[1])), rng);
    }  // biases and β stay 0
  }
  return params;
}

}  // namespace mha
