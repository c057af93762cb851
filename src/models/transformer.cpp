// Transformer: the forward pass (inference and training) and the backward pass, both built from
// the layers of one call, which view the model's TensorStore (formulas in
// mha/models/transformer.hpp). Building them costs a few shape checks and copies no weight.
#include "mha/models/transformer.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "mha/core/workspace.hpp"
#include "mha/layers/embedding.hpp"
#include "mha/layers/positional_encoding.hpp"

namespace mha {
namespace {

Tensor<> add(const Tensor<>& a, const Tensor<>& b) {
  Tensor<> sum(a.shape());
  for (Index i = 0; i < a.numel(); ++i) sum.data()[i] = a.data()[i] + b.data()[i];
  return sum;
}

void add_into(Tensor<>& into, const Tensor<>& x) {
  for (Index i = 0; i < into.numel(); ++i) into.data()[i] += x.data()[i];
}

// A block's layers over views of a store (the parameters) and where its gradients go. An
// attention-only model (d_ff = 0) has neither a feed-forward sublayer nor LN₂.
struct Block {
  MultiHeadAttention attention;
  LayerNorm norm1;
  std::optional<FeedForward> feed_forward;
  std::optional<LayerNorm> norm2;
};

Weight stored(const TensorStore& store, Index tensor) { return Weight::borrowed(store[tensor]); }

Block block_of(const TransformerConfig& c, const TransformerBlockTensors& t, const TensorStore& p) {
  MhaWeights w;
  w.in_proj_weight = stored(p, t.in_proj_weight);
  w.in_proj_bias = stored(p, t.in_proj_bias);
  w.out_proj_weight = stored(p, t.out_proj_weight);
  w.out_proj_bias = stored(p, t.out_proj_bias);
  Block block{MultiHeadAttention({.embed_dim = c.d_model, .num_heads = c.num_heads, .batch_first = true},
                                 std::move(w)),
              LayerNorm(stored(p, t.norm1_weight), stored(p, t.norm1_bias), c.layer_norm_eps),
              std::nullopt, std::nullopt};
  if (c.d_ff > 0) {
    block.feed_forward.emplace(Linear(stored(p, t.linear1_weight), stored(p, t.linear1_bias)), c.activation,
                               Linear(stored(p, t.linear2_weight), stored(p, t.linear2_bias)));
    block.norm2.emplace(stored(p, t.norm2_weight), stored(p, t.norm2_bias), c.layer_norm_eps);
  }
  return block;
}

// A block around its attention a (formulas in mha/models/transformer.hpp): the attention's input,
// then h and the block's output. Shared by forward (with or without a tape) and decode.
Tensor<> attention_input(const Block& layer, bool pre, const Tensor<>& x, TransformerBlockTape* t) {
  return pre ? layer.norm1.forward(x.view(), t ? &t->norm1 : nullptr) : x;
}

Tensor<> block_output(const Block& layer, bool pre, const Tensor<>& x, const Tensor<>& a, TransformerBlockTape* t,
                      const Context& ctx) {
  Tensor<> h = pre ? add(x, a) : layer.norm1.forward(x.view(), a.view(), t ? &t->norm1 : nullptr);
  if (!layer.feed_forward) return h;  // attention only: the block's output is h
  const Tensor<> ffn_in = pre ? layer.norm2->forward(h.view(), t ? &t->norm2 : nullptr) : h;
  const Tensor<> f = layer.feed_forward->forward(ffn_in.view(), ctx, t ? &t->feed_forward : nullptr);
  return pre ? add(h, f) : layer.norm2->forward(h.view(), f.view(), t ? &t->norm2 : nullptr);
}

// x⁰(b, i) = E[ids(b, i)]·√d + PE(position(b, i)).
template <class Position>
Tensor<> embed(const TensorStore& params, Index embedding, TensorView<const std::int64_t> ids, Index d,
               Position position) {
  Tensor<> x = Embedding(stored(params, embedding)).forward(ids, "input_ids");
  const double scale = std::sqrt(static_cast<double>(d));
  for (Index b = 0; b < ids.dim(0); ++b)
    for (Index i = 0; i < ids.dim(1); ++i) {
      const Index pos = position(b, i);
      for (Index k = 0; k < d; ++k)
        x(b, i, k) = static_cast<float>(x(b, i, k) * scale + sinusoidal_position(pos, k, d));
    }
  return x;
}

// The last block's output, through LN_f for pre-LN.
Tensor<> last_hidden(const TransformerConfig& c, const TransformerTensors& t, const TensorStore& params, Tensor<> x,
                     TransformerTape* tape) {
  if (c.norm != NormPlacement::pre) return x;
  return LayerNorm(stored(params, t.final_norm_weight), stored(params, t.final_norm_bias), c.layer_norm_eps)
      .forward(x.view(), tape ? &tape->final_norm : nullptr);
}

void require_causal(const TransformerConfig& c) {
  if (!c.causal)
    throw_invalid("model", "a causal model (config causal = true) to decode with a cache",
                  "an encoder (causal = false)");
}

MhaWeightGradients attention_gradients(const TransformerBlockTensors& t, TensorStore& g) {
  MhaWeightGradients into;
  into.in_proj_weight = g[t.in_proj_weight];
  into.in_proj_bias = g[t.in_proj_bias];
  into.out_proj_weight = g[t.out_proj_weight];
  into.out_proj_bias = g[t.out_proj_bias];
  return into;
}

}  // namespace

Transformer::Transformer(TransformerConfig config, TensorStore parameters)
    : config_(config), tensors_(transformer_tensors(config_)), params_(std::move(parameters)) {
  check_layout(params_, *tensors_.layout, "parameters");
  tensors_.layout = params_.shared_layout();  // equal by value; now also the same object
}

// The store may have been replaced through mutable_parameters(): the same layout object costs a
// pointer comparison, any other is checked tensor by tensor.
void Transformer::check_parameters() const {
  if (params_.shared_layout() != tensors_.layout) check_layout(params_, *tensors_.layout, "parameters");
}

TransformerOutput Transformer::forward(const EncoderInput& input, const EncoderRequest& request,
                                       const Context& ctx, TransformerTape* tape,
                                       const AttentionDropout& dropout) const {
  check_parameters();
  const TransformerConfig& c = config_;
  const TensorView<const std::int64_t>& ids = input.input_ids;
  if (ids.rank() != 2) throw_invalid("input_ids", "a rank-2 tensor [B, L]", shape_str(ids.shape()));
  if (ids.dim(1) > c.max_length)
    throw_invalid("input_ids", "at most max_length " + std::to_string(c.max_length) + " positions",
                  std::to_string(ids.dim(1)));
  if (input.token_type_ids.defined())
    throw_invalid("token_type_ids", "none (this model has no segments)", shape_str(input.token_type_ids.shape()));
  MhaOptions options;
  options.is_causal = c.causal;
  options.need_weights = request.output_attentions;
  options.average_attn_weights = false;
  options.need_query_key = request.output_query_key;
  BoolTensor padding;
  if (input.attention_mask.defined()) {
    if (input.attention_mask.shape() != ids.shape())
      throw_invalid("attention_mask", "shape " + shape_str(ids.shape()) + " (like input_ids)",
                    shape_str(input.attention_mask.shape()));
    padding = padding_flags(input.attention_mask);
    options.key_padding_mask = block_mask(padding.view());
  }

  const Tensor<std::int64_t> positions = position_ids(input, c.max_length, ctx);
  Tensor<> x = embed(params_, tensors_.embedding, ids, c.d_model,
                     [&](Index b, Index i) { return static_cast<Index>(positions(b, i)); });

  TransformerOutput out;
  if (tape) {
    tape->ids = Tensor<std::int64_t>::copy_of(ids);
    tape->blocks.assign(static_cast<std::size_t>(c.num_layers), {});
  }
  const bool pre = c.norm == NormPlacement::pre;
  for (Index l = 0; l < c.num_layers; ++l) {
    const Block layer = block_of(c, tensors_.layers[static_cast<std::size_t>(l)], params_);
    TransformerBlockTape* t = tape ? &tape->blocks[static_cast<std::size_t>(l)] : nullptr;
    AttentionDropout layer_dropout = dropout;
    layer_dropout.seed = dropout.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(l);
    if (request.output_hidden_states) out.hidden_states.push_back(x);
    const Tensor<> attn_in = attention_input(layer, pre, x, t);
    MhaOutput seen = layer.attention.forward(attn_in.view(), attn_in.view(), attn_in.view(), options, ctx,
                                             t ? &t->attention : nullptr, layer_dropout);
    x = block_output(layer, pre, x, seen.output, t, ctx);
    if (request.output_hidden_states) out.attention_inputs.push_back(attn_in);
    if (request.output_attentions) out.attentions.push_back(std::move(seen.weights));
    if (request.output_query_key) {
      out.queries.push_back(std::move(seen.queries));
      out.keys.push_back(std::move(seen.keys));
    }
  }
  if (request.output_hidden_states) out.hidden_states.push_back(x);
  out.last_hidden_state = last_hidden(c, tensors_, params_, std::move(x), tape);
  out.logits = Linear(stored(params_, tensors_.lm_head_weight), stored(params_, tensors_.lm_head_bias))
                   .forward(out.last_hidden_state.view(), ctx, tape ? &tape->lm_head : nullptr);
  return out;
}

std::size_t TransformerCache::bytes() const {
  std::size_t total = 0;
  for (const KvCache& layer : layers) total += layer.bytes();
  return total;
}

void TransformerCache::clear() {
  for (KvCache& layer : layers) layer.clear();
}

TransformerCache Transformer::make_cache(Index batch, Index max_length, CacheDtype dtype) const {
  require_causal(config_);
  TransformerCache cache;
  const Index d = config_.d_model / config_.num_heads;
  for (Index l = 0; l < config_.num_layers; ++l)
    cache.layers.emplace_back(KvCacheShape{.batch = batch, .kv_heads = config_.num_heads, .max_length = max_length,
                                           .head_dim = d, .value_dim = d, .dtype = dtype});
  return cache;
}

// Every check that could fail inside a layer is made here, before the first layer appends: the
// cache then changes in every layer or in none.
void Transformer::check_decode(TensorView<const std::int64_t> ids, const TransformerCache& cache,
                               std::span<const Index> counts) const {
  const TransformerConfig& c = config_;
  require_causal(c);
  if (ids.rank() != 2) throw_invalid("ids", "a rank-2 tensor [B, n]", shape_str(ids.shape()));
  const Index batch = ids.dim(0), n = ids.dim(1);
  if (cache.layers.size() != static_cast<std::size_t>(c.num_layers))
    throw_invalid("cache", "one layer cache per block (" + std::to_string(c.num_layers) + ")",
                  std::to_string(cache.layers.size()));
  const KvCache& first = cache.layers.front();
  const Index d = c.d_model / c.num_heads;
  if (first.batch() != batch || first.kv_heads() != c.num_heads || first.head_dim() != d || first.value_dim() != d)
    throw_invalid("cache", "batch " + std::to_string(batch) + ", " + std::to_string(c.num_heads) +
                               " heads of " + std::to_string(d) + " (this model's)",
                  "batch " + std::to_string(first.batch()) + ", " + std::to_string(first.kv_heads()) +
                      " heads of " + std::to_string(first.head_dim()));
  for (const KvCache& layer : cache.layers)
    if (layer.shape() != first.shape() || !std::ranges::equal(layer.lengths(), first.lengths()))
      throw_invalid("cache", "layer caches of one shape and the same lengths (as make_cache() gives)",
                    "layers that differ");
  if (!counts.empty() && static_cast<Index>(counts.size()) != batch)
    throw_invalid("counts", std::to_string(batch) + " entries (one per sequence)", std::to_string(counts.size()));
  for (Index b = 0; b < batch; ++b) {
    const Index count = counts.empty() ? n : counts[static_cast<std::size_t>(b)];
    if (count < 0 || count > n)
      throw_invalid("counts[" + std::to_string(b) + "]", "a count in [0, " + std::to_string(n) + "]",
                    std::to_string(count));
    if (first.length(b) + count > first.max_length())
      throw_invalid("ids", "at most " + std::to_string(first.max_length() - first.length(b)) +
                               " more tokens for sequence " + std::to_string(b) + " (the cache holds " +
                               std::to_string(first.length(b)) + " of " + std::to_string(first.max_length()) + ")",
                    std::to_string(count));
    for (Index i = 0; i < count; ++i)
      if (ids(b, i) < 0 || ids(b, i) >= c.vocab_size)
        throw_invalid("ids", "token ids in [0, " + std::to_string(c.vocab_size) + ")",
                      std::to_string(ids(b, i)) + " at (" + std::to_string(b) + ", " + std::to_string(i) + ")");
  }
}

Tensor<> Transformer::decode(TensorView<const std::int64_t> ids, TransformerCache& cache,
                             std::span<const Index> counts, const Context& caller_ctx) const {
  check_parameters();
  check_decode(ids, cache, counts);
  const TransformerConfig& c = config_;
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  // Padding rows (past counts[b]) may hold any id: read them as id 0, never appended.
  Tensor<std::int64_t> safe_ids = Tensor<std::int64_t>::copy_of(ids);
  for (Index b = 0; !counts.empty() && b < ids.dim(0); ++b)
    for (Index i = counts[static_cast<std::size_t>(b)]; i < ids.dim(1); ++i) safe_ids(b, i) = 0;
  const KvCache& first = cache.layers.front();
  Tensor<> x = embed(params_, tensors_.embedding, safe_ids.view(), c.d_model,
                     [&](Index b, Index i) { return first.length(b) + i; });
  const bool pre = c.norm == NormPlacement::pre;
  const CachedMhaOptions options{.is_causal = true, .window_left = -1, .scale = {}, .counts = counts};
  for (Index l = 0; l < c.num_layers; ++l) {
    const Block layer = block_of(c, tensors_.layers[static_cast<std::size_t>(l)], params_);
    const Tensor<> attn_in = attention_input(layer, pre, x, nullptr);
    Tensor<> a(attn_in.shape());
    layer.attention.forward_with_cache(attn_in.view(), cache.layers[static_cast<std::size_t>(l)], a.view(), options,
                                       ctx);
    x = block_output(layer, pre, x, a, nullptr, ctx);
  }
  const Tensor<> last = last_hidden(c, tensors_, params_, std::move(x), nullptr);
  return Linear(stored(params_, tensors_.lm_head_weight), stored(params_, tensors_.lm_head_bias))
      .forward(last.view(), ctx);
}

void Transformer::backward(const TransformerTape& tape, TensorView<const float> grad_logits,
                           TensorStore& gradients, const Context& ctx) const {
  check_parameters();
  const TransformerConfig& c = config_;
  check_layout(gradients, *tensors_.layout, "gradients");
  if (tape.blocks.size() != static_cast<std::size_t>(c.num_layers))
    throw_invalid("tape", "a training forward's tape (" + std::to_string(c.num_layers) + " blocks)",
                  std::to_string(tape.blocks.size()) + " blocks");
  TensorStore& g = gradients;
  const TransformerTensors& t = tensors_;
  const bool pre = c.norm == NormPlacement::pre;

  Tensor<> d_x = Linear(stored(params_, t.lm_head_weight), stored(params_, t.lm_head_bias))
                     .backward(tape.lm_head, grad_logits, {g[t.lm_head_weight], g[t.lm_head_bias]}, ctx);
  if (pre)
    d_x = LayerNorm(stored(params_, t.final_norm_weight), stored(params_, t.final_norm_bias), c.layer_norm_eps)
              .backward(tape.final_norm, d_x.view(), {g[t.final_norm_weight], g[t.final_norm_bias]});

  for (Index l = c.num_layers - 1; l >= 0; --l) {
    const TransformerBlockTensors& bt = t.layers[static_cast<std::size_t>(l)];
    const TransformerBlockTape& tb = tape.blocks[static_cast<std::size_t>(l)];
    const Block layer = block_of(c, bt, params_);
    const LayerNormGradients norm1{g[bt.norm1_weight], g[bt.norm1_bias]};
    // Output side: post-LN out = LN₂(h + f); pre-LN out = h + f; attention only: out = h.
    Tensor<> d_h = d_x;
    if (layer.feed_forward) {
      const LayerNormGradients norm2{g[bt.norm2_weight], g[bt.norm2_bias]};
      const Tensor<> d_f = pre ? d_x : layer.norm2->backward(tb.norm2, d_x.view(), norm2);
      d_h = d_f;
      const Tensor<> d_ffn_in = layer.feed_forward->backward(
          tb.feed_forward, d_f.view(),
          {{g[bt.linear1_weight], g[bt.linear1_bias]}, {g[bt.linear2_weight], g[bt.linear2_bias]}}, ctx);
      add_into(d_h, pre ? layer.norm2->backward(tb.norm2, d_ffn_in.view(), norm2) : d_ffn_in);
    }
    // Attention side: post-LN h = LN₁(x + a); pre-LN h = x + a with a = MHA(LN₁(x)).
    const Tensor<> d_a = pre ? d_h : layer.norm1.backward(tb.norm1, d_h.view(), norm1);
    d_x = d_a;
    const MhaInputGradients ga =
        mha::backward(layer.attention, tb.attention, d_a.view(), attention_gradients(bt, g), ctx);
    const Tensor<> d_attn_in = add(add(ga.d_query, ga.d_key), ga.d_value);
    add_into(d_x, pre ? layer.norm1.backward(tb.norm1, d_attn_in.view(), norm1) : d_attn_in);
  }

  // x⁰ = E[ids]·√d + PE: position (b, i) hands √d·dx⁰ to its id's row.
  const double scale = std::sqrt(static_cast<double>(c.d_model));
  Tensor<> d_rows(d_x.shape());
  for (Index i = 0; i < d_x.numel(); ++i) d_rows.data()[i] = static_cast<float>(d_x.data()[i] * scale);
  Embedding(stored(params_, t.embedding)).backward(tape.ids.view(), d_rows.view(), g[t.embedding]);
}

EncoderShape Transformer::shape() const {
  return {.layers = config_.num_layers, .heads = config_.num_heads, .hidden = config_.d_model,
          .head_dim = config_.d_model / config_.num_heads, .max_positions = config_.max_length};
}

EncoderOutput Transformer::encode(const EncoderInput& input, const EncoderRequest& request,
                                  const Context& ctx) const {
  return forward(input, request, ctx);
}

}  // namespace mha
