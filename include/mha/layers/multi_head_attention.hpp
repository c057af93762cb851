// MultiHeadAttention: nn.MultiheadAttention's semantics and state_dict layout, plus grouped-query
// attention, a custom scale, causal alignment and a sliding window.
//
// Three calls: project Q, K, V → attention kernel (mha::attention) → output projection. The same
// forward serves training: given a tape (mha/layers/multi_head_attention_backward.hpp) it keeps
// what backward() needs and applies attention dropout.
//
// Shapes, with L the target length, S the source length, B the batch, E = embed_dim:
//   query: (L, B, E)      key: (S, B, kdim)      value: (S, B, vdim)       default
//          (B, L, E)           (B, S, kdim)             (B, S, vdim)       batch_first
//          (L, E)              (S, kdim)                (S, vdim)          unbatched
//   output: same layout as query, last dimension E
//   weights (need_weights): (B, L, S') averaged over heads, or (B, H, L, S') per head
//                           (unbatched: (L, S') or (H, L, S')); S' = S + add_bias_kv + add_zero_attn
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention.hpp"
#include "mha/kernels/attention_backward.hpp"  // AttentionDropout
#include "mha/kernels/kv_cache.hpp"
#include "mha/layers/weight.hpp"

namespace mha {

struct MhaConfig {
  Index embed_dim = 0;         // E
  Index num_heads = 1;         // H query heads; head_dim D = E / H
  Index num_kv_heads = 0;      // key/value heads (GQA), must divide num_heads; 0 = num_heads
  Index kdim = 0;              // key input width; 0 = embed_dim
  Index vdim = 0;              // value input width; 0 = embed_dim
  bool bias = true;            // in_proj_bias and out_proj.bias
  bool add_bias_kv = false;    // learned bias_k / bias_v appended as one more key/value position
  bool add_zero_attn = false;  // a zero key/value position appended after that
  bool batch_first = false;
};

// Weights in PyTorch's state_dict layout. With Hkv = num_kv_heads and D = head_dim, the key and
// value projections have Hkv·D rows (= E without GQA). Each is a Weight (mha/layers/weight.hpp):
// a tensor the layer owns, or a view into a model's store.
template <class W>
struct MhaTensors {
  W in_proj_weight;   // [E + 2·Hkv·D, E], rows Q then K then V (only when kdim == vdim == E)
  W q_proj_weight;    // [E, E]        } used instead of in_proj_weight
  W k_proj_weight;    // [Hkv·D, kdim] } (required when kdim or vdim differ from E)
  W v_proj_weight;    // [Hkv·D, vdim] }
  W in_proj_bias;     // [E + 2·Hkv·D]   (bias)
  W out_proj_weight;  // [E, E]
  W out_proj_bias;    // [E]            (bias)
  W bias_k;           // [1, 1, Hkv·D]  (add_bias_kv)
  W bias_v;           // [1, 1, Hkv·D]  (add_bias_kv)
};
using MhaWeights = MhaTensors<Weight>;

// Calls f(state_dict name, the field of each struct…) for the nine tensors, in the order above:
// the one list of their names.
template <class F, class... S>
void for_each_mha_tensor(F&& f, S&... structs) {
  f("in_proj_weight", structs.in_proj_weight...);
  f("q_proj_weight", structs.q_proj_weight...);
  f("k_proj_weight", structs.k_proj_weight...);
  f("v_proj_weight", structs.v_proj_weight...);
  f("in_proj_bias", structs.in_proj_bias...);
  f("out_proj.weight", structs.out_proj_weight...);
  f("out_proj.bias", structs.out_proj_bias...);
  f("bias_k", structs.bias_k...);
  f("bias_v", structs.bias_v...);
}

struct MhaOptions {
  // (B, S) or (S) unbatched. Block mask: true = padding (PyTorch's convention); or additive.
  std::optional<Mask> key_padding_mask{};
  // (L, S) or (B·H, L, S) ((H, L, S) unbatched): block, keep or additive.
  std::optional<Mask> attn_mask{};
  bool is_causal = false;
  Alignment causal_alignment = Alignment::top_left;
  Index window_left = -1;  // sliding window (keys pos−window_left … pos); −1 = unlimited
  // PyTorch defaults to need_weights=True; mha computes weights only when asked.
  bool need_weights = false;
  bool average_attn_weights = true;
  // Hand back the projected queries and keys (MhaOutput::queries / keys), e.g. for a viewer
  // that shows how a weight comes about from q·k. They are copied out before the kernel writes
  // its output over the queries, so they cost one copy only when asked for.
  bool need_query_key = false;
  std::optional<double> scale{};  // default 1/sqrt(head_dim)
};

// A call with a cache (incremental decoding). The new rows of sequence b are the first
// counts[b] of the input's n (empty: all n; the rest is padding of a shorter sequence: not
// appended, output 0). Query row i sits at position length(b) − counts[b] + i of the cache after
// the append (bottom-right alignment), so a prefill and a one-token step are the same call.
struct CachedMhaOptions {
  bool is_causal = true;   // false: every cached key is visible (cross-attention to a memory)
  Index window_left = -1;  // sliding window (keys pos−window_left … pos); −1 = unlimited
  std::optional<double> scale{};  // default 1/sqrt(head_dim)
  std::span<const Index> counts{};
};

struct MhaTape;  // what a training forward keeps for backward()

struct MhaOutput {
  Tensor<> output;
  Tensor<> weights;  // defined only with need_weights
  // With need_query_key, the heads as the kernel read them (biases added; unbatched: no B):
  Tensor<> queries;  // [B, H, L, D]
  Tensor<> keys;     // [B, Hkv, S', D]; S' = S + add_bias_kv + add_zero_attn
};

class MultiHeadAttention {
 public:
  // Validates the config and that the weights match it; throws mha::Error naming the tensor.
  MultiHeadAttention(MhaConfig config, MhaWeights weights);

  // Seeded random weights (Xavier-uniform projections, small uniform biases): for demos/tests.
  static MultiHeadAttention random(MhaConfig config, std::uint64_t seed);

  const MhaConfig& config() const { return config_; }
  const MhaWeights& weights() const { return weights_; }
  Index head_dim() const { return config_.embed_dim / config_.num_heads; }

  // Self- or cross-attention. Thread-safe: a const layer may be called from many threads.
  // Training: with `tape`, fills it for backward() (need_weights must then be false) and drops
  // attention probabilities by `dropout` (its rate must be 0 without a tape).
  MhaOutput forward(TensorView<const float> query, TensorView<const float> key,
                    TensorView<const float> value, const MhaOptions& options = {},
                    const Context& ctx = {}, MhaTape* tape = nullptr,
                    const AttentionDropout& dropout = {}) const;

  // What forward(query, key, value, options, ctx) runs for its attention core and why
  // (mha::explain_attention_dispatch on the views forward would hand the kernel): it projects
  // the inputs, as forward does, and attends nothing.
  AttentionDispatch explain_dispatch(TensorView<const float> query, TensorView<const float> key,
                                     TensorView<const float> value, const MhaOptions& options = {},
                                     const Context& ctx = {}) const;

  // Decoding. Input and output are (B, n, E) with batch_first, else (n, B, E); unbatched (n, E)
  // is a batch of one. The layer needs no bias_k / bias_v / zero_attn (throws otherwise).
  //
  // A cache this layer can use: Hkv = num_kv_heads, D = head_dim, batch B, S_max tokens.
  KvCache make_cache(Index batch, Index max_length, CacheDtype dtype = CacheDtype::f32) const;
  // Self-attention step: projects x's keys and values, appends them to `cache` (all checks come
  // first; on error the cache is unchanged) and attends the new queries over the cache. Writes
  // `out` (x's shape) and returns nothing, so that a step with a lent workspace allocates no buffer.
  void forward_with_cache(TensorView<const float> x, KvCache& cache, TensorView<float> out,
                          const CachedMhaOptions& options = {}, const Context& ctx = {}) const;
  // Cross-attention: append_to_cache projects an encoder memory (B, S, kdim / vdim; layout as
  // above) once into `cache`; attend_cache lets queries attend what the cache holds
  // (options.is_causal is usually false here) without appending anything.
  void append_to_cache(TensorView<const float> key, TensorView<const float> value, KvCache& cache,
                       std::span<const Index> counts = {}, const Context& ctx = {}) const;
  void attend_cache(TensorView<const float> query, const KvCache& cache, TensorView<float> out,
                    const CachedMhaOptions& options = {}, const Context& ctx = {}) const;

 private:
  MhaConfig config_;
  MhaWeights weights_;
};

enum class Projection : std::uint8_t { query, key, value };

template <class T>
struct ProjectionRows {
  TensorView<T> weight;  // [rows, in]
  TensorView<T> bias;    // [rows]; absent without bias
};

inline TensorView<const float> view_of(const Weight& w) { return w.view(); }
inline TensorView<float> view_of(const TensorView<float>& v) { return v; }

// One input projection's weight and bias — the one statement of the packed layout: in_proj_weight
// holds the Q rows [0, E), the K rows [E, E + Hkv·D) and the V rows [E + Hkv·D, E + 2·Hkv·D);
// in_proj_bias likewise. Without in_proj_weight the separate q/k/v_proj_weight is the weight.
// Works on the weights (MhaWeights) and on gradient views of the same layout (MhaTensors of
// TensorView<float>); `config` must be resolved (a layer's config() is).
template <class W>
auto projection_rows(const MhaTensors<W>& t, const MhaConfig& config, Projection which) {
  using View = decltype(view_of(t.in_proj_weight));
  using Element = std::remove_pointer_t<decltype(View().data())>;
  const Index e = config.embed_dim, kv_width = config.num_kv_heads * (e / config.num_heads);
  const Index first = which == Projection::query ? 0 : which == Projection::key ? e : e + kv_width;
  const Index count = which == Projection::query ? e : kv_width;
  const View packed = view_of(t.in_proj_weight), bias = view_of(t.in_proj_bias);
  const View separate = view_of(which == Projection::query ? t.q_proj_weight
                                : which == Projection::key ? t.k_proj_weight
                                                           : t.v_proj_weight);
  ProjectionRows<Element> rows;
  rows.weight = packed.defined() ? View(packed.data() + first * packed.dim(1), {count, packed.dim(1)}) : separate;
  if (bias.defined()) rows.bias = View(bias.data() + first, {count});
  return rows;
}

// Owned, editable copies of a layer's weights (absent stays absent), and such tensors as the
// weights of a new layer: for experiments that change a weight and rebuild the layer.
MhaTensors<Tensor<>> copy_weights(const MhaWeights& weights);
MhaWeights owned_weights(MhaTensors<Tensor<>> tensors);

// Fills a config's defaults (num_kv_heads, kdim, vdim) and checks it; throws mha::Error.
MhaConfig resolved(MhaConfig config);

}  // namespace mha
