// A BERT-style encoder (Devlin et al. 2019; Hugging Face BertModel without the pooler):
//
//   h⁰ = LayerNorm(word[ids] + token_type[types] + position[0..L))
//   for each layer n = 1..N (post-LN):
//     a  = MultiHeadAttention(hⁿ⁻¹)               query/key/value, attention.output.dense
//     u  = LayerNorm(a + hⁿ⁻¹)                     attention.output.LayerNorm
//     hⁿ = LayerNorm(W₂·act(W₁·u + b₁) + b₂ + u)   intermediate, output, output.LayerNorm
//
//   input_ids, token_type_ids, attention_mask: [B, L]      hidden states: [B, L, E]
//   attentions: [B, H, L, L] per layer and head (softmax weights of query i over key j)
//
// Attention runs through mha::MultiHeadAttention and the kernel dispatch, so ctx.kernel picks the
// same backend for the encoder as for everything else.
//
// Padding. Hugging Face's attention_mask (1 = attend, 0 = padding) becomes a key_padding_mask:
// padded keys are skipped. Hugging Face instead adds (1 − m)·finfo.min to the scores, which gives
// the same result whenever a sequence has at least one real token. A sequence that is entirely
// padding differs: Hugging Face then attends uniformly to all its (padding) keys, while mha, like
// FlashAttention, gives that row attention weights 0 and an attention output of 0 (so the layer
// sees only the output projection's bias). Such a sequence carries no information either way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/embedding.hpp"
#include "mha/layers/feed_forward.hpp"
#include "mha/layers/layer_norm.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/models/bert_config.hpp"
#include "mha/models/encoder.hpp"

namespace mha {

struct BertEmbeddings {
  Embedding word;        // [vocab_size, E]
  Embedding position;    // [max_position_embeddings, E]
  Embedding token_type;  // [type_vocab_size, E]
  LayerNorm norm;        // embeddings.LayerNorm
};

struct BertLayer {
  MultiHeadAttention attention;  // batch_first; out_proj = attention.output.dense
  LayerNorm attention_norm;      // attention.output.LayerNorm
  FeedForward feed_forward;      // intermediate.dense → act → output.dense
  LayerNorm output_norm;         // output.LayerNorm
};

// BERT reads the encoder's input and request and gives its output (mha/models/encoder.hpp).
using BertInput = EncoderInput;
using BertForwardOptions = EncoderRequest;
using BertOutput = EncoderOutput;

class BertModel final : public Encoder {
 public:
  // Checks that every part has the config's shapes; throws mha::Error naming the part.
  BertModel(BertConfig config, BertEmbeddings embeddings, std::vector<BertLayer> layers);

  // Loads a Hugging Face checkpoint folder: config.json plus model.safetensors or a sharded
  // model.safetensors.index.json. Tensor names may carry the "bert." prefix (BertForPreTraining,
  // the hub's bert-base-uncased) or not (a saved BertModel); LayerNorm parameters may be called
  // weight/bias or, in older checkpoints, gamma/beta. Tensors may be F32, F16 or BF16 (F64 too).
  // Extra tensors (cls.*, pooler.*, embeddings.position_ids) are ignored. Throws mha::Error
  // naming the tensor for a missing tensor, an ambiguous pair (both gamma and weight, or both a
  // prefixed and an unprefixed copy), a shape that disagrees with config.json, or another dtype.
  static BertModel load(const std::filesystem::path& folder);

  const BertConfig& config() const { return config_; }
  const BertEmbeddings& embeddings() const { return embeddings_; }
  const std::vector<BertLayer>& layers() const { return layers_; }

  // Throws mha::Error naming the input for a wrong shape, an id out of range, L greater than
  // max_position_embeddings or a mask value other than 0 and 1. Thread-safe (const).
  BertOutput forward(const BertInput& input, const BertForwardOptions& options = {},
                     const Context& ctx = {}) const;

  // The Encoder interface: forward under its common name.
  EncoderShape shape() const override;
  EncoderOutput encode(const EncoderInput& input, const EncoderRequest& request = {},
                       const Context& ctx = {}) const override;

 private:
  BertConfig config_;
  BertEmbeddings embeddings_;
  std::vector<BertLayer> layers_;
};

}  // namespace mha
