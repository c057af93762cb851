// BertModel: shape validation of its parts and the encoder forward pass (modeling_bert.py's
// BertEmbeddings → BertEncoder, post-LN; see mha/models/bert.hpp for the equations).
#include <string>

#include "mha/core/workspace.hpp"
#include "mha/models/bert.hpp"

namespace mha {
namespace {

void expect_shape(const Shape& actual, const Shape& expected, const std::string& name) {
  if (actual != expected)
    throw_invalid(name, "shape " + shape_str(expected) + " (from the config)", shape_str(actual));
}

void check_layer(const BertLayer& layer, const BertConfig& c, const std::string& at) {
  const Index e = c.hidden_size, f = c.intermediate_size;
  const MhaConfig& a = layer.attention.config();
  if (a.embed_dim != e || a.num_heads != c.num_attention_heads || a.num_kv_heads != a.num_heads ||
      a.kdim != e || a.vdim != e || !a.bias || a.add_bias_kv || a.add_zero_attn || !a.batch_first)
    throw_invalid(
        at + ".attention",
        "batch-first self-attention with bias, embed_dim " + std::to_string(e) + " and " +
            std::to_string(c.num_attention_heads) + " heads",
        "embed_dim " + std::to_string(a.embed_dim) + ", " + std::to_string(a.num_heads) + " heads");
  expect_shape(layer.attention_norm.weight().shape(), {e}, at + ".attention_norm");
  expect_shape(layer.feed_forward.intermediate().weight().shape(), {f, e},
               at + ".feed_forward.intermediate");
  expect_shape(layer.feed_forward.output().weight().shape(), {e, f}, at + ".feed_forward.output");
  expect_shape(layer.output_norm.weight().shape(), {e}, at + ".output_norm");
}

}  // namespace

BertModel::BertModel(BertConfig config, BertEmbeddings embeddings, std::vector<BertLayer> layers)
    : config_(config), embeddings_(std::move(embeddings)), layers_(std::move(layers)) {
  validate(config_);
  const BertConfig& c = config_;
  const Index e = c.hidden_size;
  expect_shape(embeddings_.word.table().shape(), {c.vocab_size, e}, "embeddings.word");
  expect_shape(embeddings_.position.table().shape(), {c.max_position_embeddings, e},
               "embeddings.position");
  expect_shape(embeddings_.token_type.table().shape(), {c.type_vocab_size, e},
               "embeddings.token_type");
  expect_shape(embeddings_.norm.weight().shape(), {e}, "embeddings.norm");
  if (static_cast<Index>(layers_.size()) != c.num_hidden_layers)
    throw_invalid("layers", std::to_string(c.num_hidden_layers) + " layers (num_hidden_layers)",
                  std::to_string(layers_.size()));
  for (std::size_t n = 0; n < layers_.size(); ++n)
    check_layer(layers_[n], c, "layers[" + std::to_string(n) + "]");
}

BertOutput BertModel::forward(const BertInput& input, const BertForwardOptions& options,
                              const Context& ctx) const {
  const TensorView<const std::int64_t>& ids = input.input_ids;
  if (ids.rank() != 2 || ids.dim(1) < 1)
    throw_invalid("input_ids", "shape [B, L] with L >= 1", shape_str(ids.shape()));
  const Index batch = ids.dim(0), len = ids.dim(1);
  if (len > config_.max_position_embeddings)
    throw_invalid("input_ids",
                  "at most max_position_embeddings = " +
                      std::to_string(config_.max_position_embeddings) + " tokens",
                  std::to_string(len));
  for (const auto& [view, name] : {std::pair{input.token_type_ids, "token_type_ids"},
                                   std::pair{input.attention_mask, "attention_mask"}})
    if (view.defined() && view.shape() != ids.shape())
      throw_invalid(name, "shape " + shape_str(ids.shape()) + " (like input_ids)",
                    shape_str(view.shape()));

  // h⁰ = LayerNorm((word + token_type) + position), summed in modeling_bert.py's order.
  const Tensor<std::int64_t> zeros({batch, len});
  const Tensor<std::int64_t> positions = position_ids(input, config_.max_position_embeddings, ctx);
  const TensorView<const std::int64_t> types =
      input.token_type_ids.defined() ? input.token_type_ids : zeros.view();
  Tensor<> sum = embeddings_.word.forward(ids, "input_ids");
  const Tensor<> type_rows = embeddings_.token_type.forward(types, "token_type_ids");
  const Tensor<> position_rows = embeddings_.position.forward(positions.view(), "position_ids");
  for (Index i = 0; i < sum.numel(); ++i) {
    sum.data()[i] += type_rows.data()[i];
    sum.data()[i] += position_rows.data()[i];
  }
  Tensor<> hidden = embeddings_.norm.forward(sum.view());

  MhaOptions attention_options;
  attention_options.need_weights = options.output_attentions;
  attention_options.average_attn_weights = false;  // per head: [B, H, L, L]
  attention_options.need_query_key = options.output_query_key;
  BoolTensor padding;
  if (input.attention_mask.defined()) {
    padding = padding_flags(input.attention_mask);
    attention_options.key_padding_mask = block_mask(padding.view());
  }

  // The layers run one after another, so one workspace serves all of them: the second layer on
  // reuses the first one's scratch instead of allocating its own.
  Workspace own;
  const Context layer_ctx = with_workspace(ctx, own);

  BertOutput out;
  for (const BertLayer& layer : layers_) {
    if (options.output_hidden_states) {
      out.hidden_states.push_back(hidden);
      out.attention_inputs.push_back(hidden);
    }
    MhaOutput attended = layer.attention.forward(hidden.view(), hidden.view(), hidden.view(),
                                                 attention_options, layer_ctx);
    const Tensor<> u = layer.attention_norm.forward(attended.output.view(), hidden.view());
    const Tensor<> ffn = layer.feed_forward.forward(u.view(), layer_ctx);
    hidden = layer.output_norm.forward(ffn.view(), u.view());
    if (options.output_attentions) out.attentions.push_back(std::move(attended.weights));
    if (options.output_query_key) {
      out.queries.push_back(std::move(attended.queries));
      out.keys.push_back(std::move(attended.keys));
    }
  }
  if (options.output_hidden_states) out.hidden_states.push_back(hidden);
  out.last_hidden_state = std::move(hidden);
  return out;
}

EncoderShape BertModel::shape() const {
  const BertConfig& c = config_;
  return {.layers = c.num_hidden_layers, .heads = c.num_attention_heads, .hidden = c.hidden_size,
          .head_dim = c.head_dim(), .max_positions = c.max_position_embeddings};
}

EncoderOutput BertModel::encode(const EncoderInput& input, const EncoderRequest& request,
                                const Context& ctx) const {
  return forward(input, request, ctx);
}

}  // namespace mha
