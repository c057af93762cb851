// A small transformer encoder with a token-prediction head, trainable end to end: the model the
// experiment trains and `mha demo` ships.
//
//   x⁰ = E[ids]·√d + PE                      token embedding (scaled, "Attention Is All You
//                                            Need" §3.4) plus sinusoidal positions (§3.5)
//   post-LN block (the paper):  h = LN₁(x + MHA(x)),      x' = LN₂(h + FFN(h))
//   pre-LN block:               h = x + MHA(LN₁(x)),      x' = h + FFN(LN₂(h)); LN_f after the last
//   logits = x_last · W_headᵀ + b_head       [B, L, V]
//
// Parameters are named like PyTorch's nn.TransformerEncoderLayer, so a checkpoint reads like a
// state_dict: embedding.weight, layers.{l}.self_attn.{in_proj_weight, in_proj_bias,
// out_proj.weight, out_proj.bias}, layers.{l}.linear1/linear2.{weight, bias},
// layers.{l}.norm1/norm2.{weight, bias}, final_norm.{weight, bias} (pre-LN only),
// lm_head.{weight, bias}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/layers/activation.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::train {

enum class NormPlacement : std::uint8_t { post, pre };

struct TransformerConfig {
  Index vocab_size = 0;
  Index d_model = 64;
  Index num_heads = 4;
  Index num_layers = 2;
  Index d_ff = 256;
  Index max_length = 64;  // longest input (the positions are computed, not learned)
  NormPlacement norm = NormPlacement::pre;
  Activation activation = Activation::gelu;
  double layer_norm_eps = 1e-5;
};

// Throws mha::Error naming the field (e.g. "num_heads", expected "a divisor of d_model 64").
void validate(const TransformerConfig& config);
// The config as a JSON object and back (checkpoint metadata "mha.config"); from_json validates.
std::string config_to_json(const TransformerConfig& config);
TransformerConfig config_from_json(const std::string& json);

using Parameters = std::map<std::string, Tensor<>>;

// Every parameter's name and shape, in a fixed order.
std::vector<std::pair<std::string, Shape>> parameter_shapes(const TransformerConfig& config);
// Total element count of all parameters.
Index parameter_count(const TransformerConfig& config);

// Seeded initialisation: embeddings and the head ~ N(0, 1/d) rows (so E·√d has unit scale),
// projections Xavier-uniform, biases 0, norms γ = 1, β = 0.
Parameters init_parameters(const TransformerConfig& config, std::uint64_t seed);
// Throws mha::Error naming the first missing, unexpected or mis-shaped tensor.
void check_parameters(const TransformerConfig& config, const Parameters& params);

// One batch: ids and targets [B, L]; padding [B, L] (1 = padding, never attended) or absent.
struct Batch {
  TensorView<const std::int64_t> ids;
  TensorView<const std::uint8_t> padding;
  TensorView<const std::int64_t> targets;  // −1 = not predicted; only for the loss
};

// What forward computes besides the hidden states and the logits.
struct ForwardRequest {
  bool attention = false;  // EncoderOutput::attention: every head's weights
  bool query_key = false;  // EncoderOutput::queries and keys: what each attention projected
};

struct EncoderOutput {
  std::vector<Tensor<>> hidden_states;  // num_layers + 1 tensors [B, L, d]: x⁰ … x_last
  std::vector<Tensor<>> attention;      // per layer [B, H, L, L] (when asked for)
  // Per layer (when asked for): the queries [B, H, L, D] and keys [B, H, L, D] the attention
  // projected from its input, hidden_states[l] (post-LN) or LN₁(hidden_states[l]) (pre-LN).
  std::vector<Tensor<>> queries, keys;
  Tensor<> output;                      // what the head reads: LN_f(x_last) pre-LN, x_last post-LN
  Tensor<> logits;                      // [B, L, V]
};

class Transformer {
 public:
  // Validates the config and the parameters (check_parameters).
  Transformer(TransformerConfig config, Parameters params);

  const TransformerConfig& config() const { return config_; }
  const Parameters& parameters() const { return params_; }
  Parameters& mutable_parameters() { return params_; }

  // Inference, with what `request` asks for besides hidden states and logits.
  EncoderOutput forward(const Batch& batch, const ForwardRequest& request = {},
                        const Context& ctx = {}) const;

  struct LossAndGradients {
    double loss = 0;
    Index predicted = 0, correct = 0;
    Parameters gradients;  // same names and shapes as the parameters
  };
  // Mean cross-entropy over the targets ≥ 0 and the gradient of every parameter.
  // attention_dropout (rate 0 = none) is seeded per call.
  LossAndGradients loss_and_gradients(const Batch& batch, const AttentionDropout& dropout = {},
                                      const Context& ctx = {}) const;

 private:
  TransformerConfig config_;
  Parameters params_;
};

}  // namespace mha::train
