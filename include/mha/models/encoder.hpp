// Encoder: what every model of mha is to its readers (`mha heads`, `mha demo`, the head view, a
// program embedding one) — token ids in; hidden states, and on request the attention weights and
// the per-head queries and keys, out. BertModel and Transformer (the model `mha train` trains)
// implement it; each layer hands back what it computed, so nothing is computed twice.
//
//   input_ids       [B, L]   ids in [0, vocab)
//   token_type_ids  [B, L]   segment ids (BERT); absent = all 0 (a model without segments
//                            refuses them)
//   attention_mask  [B, L]   1 = attend, 0 = padding (Hugging Face's convention); absent = all 1
//   position_ids    [B, L]   each token's position in [0, max_positions) (Hugging Face's
//                            position_ids); absent = 0 … L−1. Under sequence parallelism
//                            (Context::sequence_parallel) each rank holds a shard of the tokens and
//                            must pass their global positions (mha::dist::shard_positions).
#pragma once

#include <cstdint>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

struct EncoderInput {
  TensorView<const std::int64_t> input_ids{};
  TensorView<const std::int64_t> token_type_ids{};
  TensorView<const std::int64_t> attention_mask{};
  TensorView<const std::int64_t> position_ids{};
};

// What to hand back besides last_hidden_state (Hugging Face's output_* flags).
struct EncoderRequest {
  bool output_hidden_states = true;  // hidden_states and attention_inputs
  bool output_attentions = true;     // attentions (a second pass of the attention kernel)
  bool output_query_key = false;     // queries and keys
};

struct EncoderOutput {
  Tensor<> last_hidden_state;           // [B, L, E]: what a task head reads
  std::vector<Tensor<>> hidden_states;  // N + 1: the embeddings' output, then each layer's
  // N: what layer n's attention read — hidden_states[n] in a post-LN model, LN₁(hidden_states[n])
  // in a pre-LN one.
  std::vector<Tensor<>> attention_inputs;
  std::vector<Tensor<>> attentions;  // N: [B, H, L, L], per head
  // N each: the queries [B, H, L, D] and keys [B, H, L, D] layer n's attention projected from
  // attention_inputs[n] (biases added), as the kernel read them.
  std::vector<Tensor<>> queries, keys;
};

// The sizes a reader of the output needs.
struct EncoderShape {
  Index layers = 0, heads = 0, hidden = 0, head_dim = 0, max_positions = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual EncoderShape shape() const = 0;
  // Throws mha::Error naming the input for a wrong shape, an id out of range, L above the
  // model's maximum or a mask value other than 0 and 1. Thread-safe (const).
  virtual EncoderOutput encode(const EncoderInput& input, const EncoderRequest& request = {},
                               const Context& ctx = {}) const = 0;
};

// attention_mask (1 = attend, 0 = padding) → block flags (1 = padding), PyTorch's
// key_padding_mask polarity. Throws mha::Error naming attention_mask for another value.
BoolTensor padding_flags(TensorView<const std::int64_t> attention_mask);

// The positions [B, L] of input_ids' tokens: input.position_ids checked (shape like input_ids,
// values in [0, max_positions)), or 0 … L−1 when absent. Throws mha::Error naming position_ids,
// also when they are absent under a sequence-parallel context (a shard's tokens are not at 0 … L−1).
Tensor<std::int64_t> position_ids(const EncoderInput& input, Index max_positions, const Context& ctx);

}  // namespace mha
