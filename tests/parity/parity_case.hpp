// One PyTorch parity fixture (scripts/make_parity_fixtures.py) read back as mha objects: the
// layer's config and weights, the inputs in PyTorch's layout, the masks as MhaOptions, and the
// expected / intermediate tensors by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "mha/io/safetensors.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::parity {

struct ParityCase {
  std::map<std::string, std::string> metadata;
  MhaConfig config;
  MhaWeights weights;
  Tensor<> query, key, value;
  std::optional<BoolTensor> key_padding_mask;
  std::optional<BoolTensor> bool_attn_mask;  // True = blocked
  std::optional<Tensor<>> float_attn_mask;   // additive, −∞ blocks
  bool is_causal = false;
  bool unbatched = false;
  bool self_attention = false;               // torch got one tensor as query, key and value
  bool key_is_value = false;                 // torch got one tensor as key and value
  std::map<std::string, Tensor<>> expected;  // "expected.*" and "intermediate.*", by full name

  Index batch() const { return unbatched ? 1 : query.dim(config.batch_first ? 0 : 1); }
  Index tgt_len() const { return query.dim(unbatched || !config.batch_first ? 0 : 1); }
  Index src_len() const { return key.dim(unbatched || !config.batch_first ? 0 : 1); }
  // S' = S + one key for bias_kv + one for zero_attn.
  Index kv_len() const {
    return src_len() + (config.add_bias_kv ? 1 : 0) + (config.add_zero_attn ? 1 : 0);
  }
  const std::string& describe() const { return metadata.at("description"); }

  // The masks and causality of the fixture as layer options (weights not requested).
  MhaOptions options() const {
    MhaOptions o;
    if (key_padding_mask) o.key_padding_mask = from_torch_mha_mask(key_padding_mask->view());
    if (bool_attn_mask) o.attn_mask = from_torch_mha_mask(bool_attn_mask->view());
    if (float_attn_mask) o.attn_mask = additive_mask(float_attn_mask->view());
    o.is_causal = is_causal;
    return o;
  }
};

inline Index metadata_int(const std::map<std::string, std::string>& metadata,
                          const std::string& key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) throw_invalid("__metadata__", "a key '" + key + "'", "none");
  return std::stoll(it->second);
}

// Reads a fixture; the config follows from which tensors exist and their shapes (the metadata
// only supplies what the state_dict cannot say: heads, zero_attn, layout, causality). The test
// cross-checks the derived values against the metadata.
inline ParityCase load_parity_case(const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  ParityCase c;
  c.metadata = file.metadata();
  auto optional_f32 = [&](const char* name) {
    return file.contains(name) ? file.read_f32(name) : Tensor<>();
  };

  MhaWeights& w = c.weights;
  w.in_proj_weight = optional_f32("in_proj_weight");
  w.q_proj_weight = optional_f32("q_proj_weight");
  w.k_proj_weight = optional_f32("k_proj_weight");
  w.v_proj_weight = optional_f32("v_proj_weight");
  w.in_proj_bias = optional_f32("in_proj_bias");
  w.out_proj_weight = file.read_f32("out_proj.weight");
  w.out_proj_bias = optional_f32("out_proj.bias");
  w.bias_k = optional_f32("bias_k");
  w.bias_v = optional_f32("bias_v");

  MhaConfig& config = c.config;
  config.embed_dim = w.out_proj_weight.dim(0);
  config.num_heads = metadata_int(c.metadata, "num_heads");
  config.kdim = w.k_proj_weight.defined() ? w.k_proj_weight.dim(1) : config.embed_dim;
  config.vdim = w.v_proj_weight.defined() ? w.v_proj_weight.dim(1) : config.embed_dim;
  config.bias = w.in_proj_bias.defined();
  config.add_bias_kv = w.bias_k.defined();
  config.add_zero_attn = metadata_int(c.metadata, "add_zero_attn") != 0;
  config.batch_first = metadata_int(c.metadata, "batch_first") != 0;

  c.query = file.read_f32("query");
  c.key = file.read_f32("key");
  c.value = file.read_f32("value");
  c.unbatched = c.query.rank() == 2;
  c.is_causal = metadata_int(c.metadata, "is_causal") != 0;
  c.self_attention = metadata_int(c.metadata, "self_attention") != 0;
  c.key_is_value = metadata_int(c.metadata, "key_is_value") != 0;
  if (file.contains("key_padding_mask")) c.key_padding_mask = file.read_bool("key_padding_mask");
  if (file.contains("attn_mask")) {
    if (file.info("attn_mask").dtype == DType::BOOL)
      c.bool_attn_mask = file.read_bool("attn_mask");
    else
      c.float_attn_mask = file.read_f32("attn_mask");
  }
  for (const std::string& name : file.names())
    if (name.starts_with("expected.") || name.starts_with("intermediate."))
      c.expected.emplace(name, file.read_f32(name));
  return c;
}

}  // namespace mha::parity
