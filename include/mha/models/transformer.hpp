// Transformer: a small transformer encoder with a token-prediction head, trainable end to end —
// the model `mha train` trains and `mha demo` ships. Built from the layers only.
//
//   x⁰ = E[ids]·√d + PE                      token embedding (scaled, "Attention Is All You
//                                            Need" §3.4) plus sinusoidal positions (§3.5)
//   post-LN block (the paper):  h = LN₁(x + MHA(x)),      x' = LN₂(h + FFN(h))
//   pre-LN block:               h = x + MHA(LN₁(x)),      x' = h + FFN(LN₂(h)); LN_f after the last
//   logits = x_last · W_headᵀ + b_head       [B, L, V]
//   d_ff = 0, attention only (no FFN, no LN₂):  post-LN x' = LN₁(x + MHA(x)), pre-LN x' = x + MHA(LN₁(x))
//
// The weights live in one TensorStore the model owns (mha/core/tensor_store.hpp); its layout,
// declared by transformer_tensors(), names every tensor once, like PyTorch's
// nn.TransformerEncoderLayer, so a checkpoint reads like a state_dict: embedding.weight,
// layers.{l}.self_attn.{in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias},
// layers.{l}.linear1/linear2.{weight, bias}, layers.{l}.norm1/norm2.{weight, bias} (linear1/2 and
// norm2 only when d_ff > 0), final_norm.{weight, bias} (pre-LN only), lm_head.{weight, bias}. The layers of a call view that
// store, and backward writes a gradient store of the same layout: no weight is copied.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/core/tensor_store.hpp"
#include "mha/layers/activation.hpp"
#include "mha/layers/feed_forward.hpp"
#include "mha/layers/layer_norm.hpp"
#include "mha/layers/linear_layer.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"  // and, through the layer, KvCache
#include "mha/models/encoder.hpp"

namespace mha {

enum class NormPlacement : std::uint8_t { post, pre };

struct TransformerConfig {
  Index vocab_size = 0;
  Index d_model = 64;
  Index num_heads = 4;
  Index num_layers = 2;
  Index d_ff = 256;  // 0: attention only (blocks without feed-forward sublayer and LN₂)
  Index max_length = 64;  // longest input (the positions are computed, not learned)
  NormPlacement norm = NormPlacement::pre;
  Activation activation = Activation::gelu;
  double layer_norm_eps = 1e-5;
  // Masked self-attention (a decoder: each position sees itself and the positions before it):
  // a causal language model, which can also decode token by token with a cache (decode()).
  bool causal = false;
};

// Throws mha::Error naming the field (e.g. "num_heads", expected "a divisor of d_model 64").
void validate(const TransformerConfig& config);
// The config as a JSON object and back (checkpoint metadata "mha.config"); from_json validates.
std::string config_to_json(const TransformerConfig& config);
TransformerConfig config_from_json(const std::string& json);

// The model's tensors: indices into its layout (the same for the parameters, the gradients and
// the optimizer's moments). An attention-only model (d_ff = 0) declares no linear1, linear2 or
// norm2: their indices are -1.
struct TransformerBlockTensors {
  Index in_proj_weight = -1, in_proj_bias = -1, out_proj_weight = -1, out_proj_bias = -1;  // self_attn
  Index linear1_weight = -1, linear1_bias = -1, linear2_weight = -1, linear2_bias = -1;  // d_ff > 0 only
  Index norm1_weight = -1, norm1_bias = -1, norm2_weight = -1, norm2_bias = -1;  // norm2: d_ff > 0 only
};
struct TransformerTensors {
  std::shared_ptr<const TensorLayout> layout;
  Index embedding = -1;
  std::vector<TransformerBlockTensors> layers;
  Index final_norm_weight = -1, final_norm_bias = -1;  // pre-LN only
  Index lm_head_weight = -1, lm_head_bias = -1;
};
// Validates the config and declares every tensor with its name and shape, in a fixed order.
TransformerTensors transformer_tensors(const TransformerConfig& config);
// Total element count of all parameters.
Index parameter_count(const TransformerConfig& config);

// Seeded initialisation: embeddings and the head ~ N(0, 1/d) rows (so E·√d has unit scale),
// projections Xavier-uniform, biases 0, norms γ = 1, β = 0.
TensorStore init_parameters(const TransformerConfig& config, std::uint64_t seed);

// What a training forward keeps for backward, per block and for the head.
struct TransformerBlockTape {
  LayerNormTape norm1;  // pre-LN: x;      post-LN: x + MHA(x)
  MhaTape attention;    // its input: LN₁(x) pre-LN, x post-LN
  LayerNormTape norm2;  // pre-LN: h;      post-LN: h + FFN(h)   (both empty when d_ff = 0)
  FeedForwardTape feed_forward;
};
struct TransformerTape {
  Tensor<std::int64_t> ids;
  std::vector<TransformerBlockTape> blocks;
  LayerNormTape final_norm;  // pre-LN only
  LinearTape lm_head;
};

struct TransformerOutput : EncoderOutput {
  Tensor<> logits;  // [B, L, V]
};

// A causal model's decoding state: one KvCache per layer (mha/kernels/kv_cache.hpp), all of one
// batch size, capacity and element type. Sequence b's next token sits at position length(b).
struct TransformerCache {
  std::vector<KvCache> layers;
  Index length(Index b) const { return layers.empty() ? 0 : layers.front().length(b); }
  std::size_t bytes() const;  // 2·layers·B·H·S_max·D·sizeof(dtype)
  void clear();
};

class Transformer final : public Encoder {
 public:
  // Validates the config and that the parameters have its layout (names, shapes and order);
  // throws mha::Error naming the first missing, unexpected or mis-shaped tensor.
  Transformer(TransformerConfig config, TensorStore parameters);

  const TransformerConfig& config() const { return config_; }
  const TransformerTensors& tensors() const { return tensors_; }
  const TensorStore& parameters() const { return params_; }
  // For the optimizer: the layers of later calls read the updated values. A store assigned here
  // must have the same layout; forward and backward check it and throw mha::Error naming the
  // first tensor that differs.
  TensorStore& mutable_parameters() { return params_; }
  // A zeroed store of the parameters' layout, for backward.
  TensorStore zero_gradients() const { return TensorStore(tensors_.layout); }

  // Inference with what `request` asks for, or a training forward: with a tape, keeps what
  // backward needs and drops attention probabilities by `dropout` (rate 0 = none; seeded per
  // call, the seed mixed with the layer index). input.token_type_ids must be absent.
  TransformerOutput forward(const EncoderInput& input, const EncoderRequest& request = {},
                            const Context& ctx = {}, TransformerTape* tape = nullptr,
                            const AttentionDropout& dropout = {}) const;

  // Writes dL/d(every parameter) into `gradients` (a store of the parameters' layout, every
  // tensor overwritten) for dL/d logits = grad_logits, from a training forward's tape.
  void backward(const TransformerTape& tape, TensorView<const float> grad_logits,
                TensorStore& gradients, const Context& ctx = {}) const;

  // Decoding (config().causal only). A cache for `batch` sequences of up to `max_length` tokens.
  TransformerCache make_cache(Index batch, Index max_length, CacheDtype dtype = CacheDtype::f32) const;
  // Runs the next tokens ids [B, n] of each sequence (the first counts[b] of row b; empty: all n)
  // through the model at positions length(b) … and appends them to the cache; returns the logits
  // [B, n, V] (rows past counts[b] are not meaningful). A prefill and a one-token step are the
  // same call, and decode() of a whole text equals forward() of it (causal) within the
  // fast-vs-reference rule. Every argument is checked before the cache changes: on error
  // (an id outside the vocabulary, a sequence that would pass the cache's capacity, a cache of
  // another shape) it throws mha::Error and the cache is as it was.
  Tensor<> decode(TensorView<const std::int64_t> ids, TransformerCache& cache,
                  std::span<const Index> counts = {}, const Context& ctx = {}) const;

  EncoderShape shape() const override;
  EncoderOutput encode(const EncoderInput& input, const EncoderRequest& request = {},
                       const Context& ctx = {}) const override;

 private:
  void check_parameters() const;
  void check_decode(TensorView<const std::int64_t> ids, const TransformerCache& cache,
                    std::span<const Index> counts) const;

  TransformerConfig config_;
  TransformerTensors tensors_;
  TensorStore params_;
};

}  // namespace mha
