// Transformer: the encoder's forward pass (inference and training) and its backward pass.
//
// Training keeps, per block, the tensors the backward pass reads (named after where they enter
// the block's formula, see mha/train/transformer.hpp), the attention's MhaTape (O(N) per head:
// the probabilities are recomputed from the log-sum-exp) and the FFN's pre-activation.
#include "mha/train/transformer.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "mha/kernels/linear.hpp"
#include "mha/kernels/linear_backward.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"
#include "mha/train/functional.hpp"

namespace mha::train {
namespace {

std::string layer_name(Index layer, const char* rest) {
  return "layers." + std::to_string(layer) + "." + rest;
}

Index rows_of(const Tensor<>& x) { return x.numel() / x.dim(-1); }

// y = x·Wᵀ + b over the last dimension of x.
Tensor<> apply_linear(const Tensor<>& x, const Tensor<>& w, const Tensor<>& b, const Context& ctx) {
  Shape shape = x.shape();
  shape.back() = w.dim(0);
  Tensor<> y(shape);
  const Index rows = rows_of(x);
  linear({.x = x.view_as({1, rows, w.dim(1)}),
          .weight = w.view(),
          .bias = b.view(),
          .y = y.view_as({1, rows, w.dim(0)})},
         ctx);
  return y;
}

struct LinearGrads {
  Tensor<> dx, dw, db;
};

// dX = dY·W, dW = dYᵀ·X, db = Σ dY (mha/kernels/linear_backward.hpp); dX only when asked.
LinearGrads linear_grads(const Tensor<>& x, const Tensor<>& w, const Tensor<>& dy, bool need_dx,
                         const Context& ctx) {
  const Index rows = rows_of(x);
  LinearGrads g{need_dx ? Tensor<>(x.shape()) : Tensor<>(), Tensor<>(w.shape()), Tensor<>({w.dim(0)})};
  linear_backward({.x = x.view_as({1, rows, w.dim(1)}),
                   .weight = w.view(),
                   .grad_y = dy.view_as({1, rows, w.dim(0)}),
                   .grad_x = need_dx ? g.dx.view_as({1, rows, w.dim(1)}) : TensorView<float>(),
                   .grad_weight = g.dw.view(),
                   .grad_bias = g.db.view()},
                  ctx);
  return g;
}

Tensor<> add(const Tensor<>& a, const Tensor<>& b) {
  Tensor<> sum(a.shape());
  for (Index i = 0; i < a.numel(); ++i) sum.data()[i] = a.data()[i] + b.data()[i];
  return sum;
}

void add_into(Tensor<>& into, const Tensor<>& x) {
  for (Index i = 0; i < into.numel(); ++i) into.data()[i] += x.data()[i];
}

// What one block keeps for the backward pass.
struct BlockTape {
  Tensor<> ln1_in;   // input of norm1: x + MHA(x) (post-LN) or x (pre-LN)
  MhaTape attn;      // the attention's own record (its input: x post-LN, LN₁(x) pre-LN)
  Tensor<> ln2_in;   // input of norm2: h + FFN(h) (post-LN) or h (pre-LN)
  Tensor<> ffn_in;   // h (post-LN) or LN₂(h) (pre-LN)
  Tensor<> pre_act;  // linear1 output
  Tensor<> act;      // act(pre_act)
};

struct ForwardTape {
  std::vector<BlockTape> blocks;
  Tensor<> final_in;  // the last block's output (input of final_norm for pre-LN)
  Tensor<> output;    // what lm_head reads
};

class Pass {
 public:
  Pass(const TransformerConfig& c, const Parameters& p, const Context& ctx) : c_(c), p_(p), ctx_(ctx) {}

  const Tensor<>& param(const std::string& name) const { return p_.at(name); }

  MultiHeadAttention attention(Index l) const {
    MhaWeights w;
    w.in_proj_weight = param(layer_name(l, "self_attn.in_proj_weight"));
    w.in_proj_bias = param(layer_name(l, "self_attn.in_proj_bias"));
    w.out_proj_weight = param(layer_name(l, "self_attn.out_proj.weight"));
    w.out_proj_bias = param(layer_name(l, "self_attn.out_proj.bias"));
    return MultiHeadAttention({.embed_dim = c_.d_model, .num_heads = c_.num_heads, .batch_first = true},
                              std::move(w));
  }

  Tensor<> norm(const Tensor<>& x, Index l, const char* which) const {
    return layer_norm_forward(x, param(layer_name(l, which) + ".weight"),
                              param(layer_name(l, which) + ".bias"), c_.layer_norm_eps);
  }

  // x⁰ = E[ids]·√d + PE.
  Tensor<> embed(TensorView<const std::int64_t> ids) const {
    const Index batch = ids.dim(0), len = ids.dim(1), d = c_.d_model;
    const Tensor<>& table = param("embedding.weight");
    const Tensor<> pe = sinusoidal_positions(len, d);
    const double scale = std::sqrt(static_cast<double>(d));
    Tensor<> x({batch, len, d});
    for (Index b = 0; b < batch; ++b)
      for (Index i = 0; i < len; ++i) {
        const std::int64_t id = ids(b, i);
        if (id < 0 || id >= c_.vocab_size)
          throw_invalid("ids", "values in [0, " + std::to_string(c_.vocab_size) + ")",
                        std::to_string(id) + " at [" + std::to_string(b) + ", " + std::to_string(i) + "]");
        for (Index k = 0; k < d; ++k)
          x(b, i, k) = static_cast<float>(table(id, k) * scale + pe(i, k));
      }
    return x;
  }

  // One block; fills `tape` (training) or, in inference, `seen` with what options asked for
  // (weights, queries and keys).
  Tensor<> block(const Tensor<>& x, Index l, const MhaOptions& options, BlockTape* tape,
                 MhaOutput& seen, const AttentionDropout& dropout) const {
    const MultiHeadAttention mha = attention(l);
    const bool pre = c_.norm == NormPlacement::pre;
    const Tensor<> attn_in = pre ? norm(x, l, "norm1") : x;
    seen = mha.forward(attn_in.view(), attn_in.view(), attn_in.view(), options, ctx_,
                       tape ? &tape->attn : nullptr, dropout);
    const Tensor<> a = std::move(seen.output);
    Tensor<> ln1_in = pre ? x : add(x, a);
    Tensor<> h = pre ? add(x, a) : norm(ln1_in, l, "norm1");
    Tensor<> ffn_in = pre ? norm(h, l, "norm2") : h;
    Tensor<> pre_act = apply_linear(ffn_in, param(layer_name(l, "linear1.weight")),
                                    param(layer_name(l, "linear1.bias")), ctx_);
    Tensor<> act = pre_act;
    apply_activation(c_.activation, act.values());
    const Tensor<> f = apply_linear(act, param(layer_name(l, "linear2.weight")),
                                    param(layer_name(l, "linear2.bias")), ctx_);
    Tensor<> ln2_in = pre ? h : add(h, f);
    Tensor<> out = pre ? add(h, f) : norm(ln2_in, l, "norm2");
    if (tape) {
      tape->ln1_in = std::move(ln1_in);
      tape->ln2_in = std::move(ln2_in);
      tape->ffn_in = std::move(ffn_in);
      tape->pre_act = std::move(pre_act);
      tape->act = std::move(act);
    }
    return out;
  }

  // dL/dx of one block given dL/d out; the block's parameter gradients go into `grads`.
  Tensor<> block_backward(const BlockTape& t, Index l, const Tensor<>& d_out, Parameters& grads) const {
    const bool pre = c_.norm == NormPlacement::pre;
    auto norm_backward = [&](const Tensor<>& in, const char* which, const Tensor<>& dy) {
      LayerNormGradients g = layer_norm_backward(in, param(layer_name(l, which) + ".weight"), dy,
                                                 c_.layer_norm_eps);
      grads[layer_name(l, which) + ".weight"] = std::move(g.dgamma);
      grads[layer_name(l, which) + ".bias"] = std::move(g.dbeta);
      return std::move(g.dx);
    };
    // Output side: post-LN out = LN₂(h + f); pre-LN out = h + f.
    Tensor<> d_f = pre ? d_out : norm_backward(t.ln2_in, "norm2", d_out);
    Tensor<> d_h = d_f;
    // FFN: f = act(ffn_in·W₁ᵀ + b₁)·W₂ᵀ + b₂.
    LinearGrads g2 = linear_grads(t.act, param(layer_name(l, "linear2.weight")), d_f, true, ctx_);
    const Tensor<> d_pre = activation_backward(c_.activation, t.pre_act, g2.dx);
    LinearGrads g1 = linear_grads(t.ffn_in, param(layer_name(l, "linear1.weight")), d_pre, true, ctx_);
    grads[layer_name(l, "linear2.weight")] = std::move(g2.dw);
    grads[layer_name(l, "linear2.bias")] = std::move(g2.db);
    grads[layer_name(l, "linear1.weight")] = std::move(g1.dw);
    grads[layer_name(l, "linear1.bias")] = std::move(g1.db);
    add_into(d_h, pre ? norm_backward(t.ln2_in, "norm2", g1.dx) : g1.dx);
    // Attention side: post-LN h = LN₁(x + a); pre-LN h = x + a with a = MHA(LN₁(x)).
    const Tensor<> d_a = pre ? d_h : norm_backward(t.ln1_in, "norm1", d_h);
    Tensor<> d_x = d_a;
    MhaGradients ga = backward(attention(l), t.attn, d_a.view(), ctx_);
    Tensor<> d_attn_in = add(add(ga.d_query, ga.d_key), ga.d_value);
    add_into(d_x, pre ? norm_backward(t.ln1_in, "norm1", d_attn_in) : d_attn_in);
    grads[layer_name(l, "self_attn.in_proj_weight")] = std::move(ga.in_proj_weight);
    grads[layer_name(l, "self_attn.in_proj_bias")] = std::move(ga.in_proj_bias);
    grads[layer_name(l, "self_attn.out_proj.weight")] = std::move(ga.out_proj_weight);
    grads[layer_name(l, "self_attn.out_proj.bias")] = std::move(ga.out_proj_bias);
    return d_x;
  }

  // The whole forward; tape for training, what `request` asks for in inference.
  EncoderOutput forward(const Batch& batch, ForwardTape* tape, const ForwardRequest& request,
                        const AttentionDropout& dropout) const {
    if (batch.ids.rank() != 2)
      throw_invalid("ids", "a rank-2 tensor [B, L]", shape_str(batch.ids.shape()));
    if (batch.ids.dim(1) > c_.max_length)
      throw_invalid("ids", "at most max_length " + std::to_string(c_.max_length) + " positions",
                    std::to_string(batch.ids.dim(1)));
    MhaOptions options;
    options.need_weights = request.attention;
    options.average_attn_weights = false;
    options.need_query_key = request.query_key;
    if (batch.padding.defined()) {
      if (batch.padding.shape() != batch.ids.shape())
        throw_invalid("padding", "shape " + shape_str(batch.ids.shape()) + " (like ids)",
                      shape_str(batch.padding.shape()));
      options.key_padding_mask = block_mask(batch.padding);
    }
    EncoderOutput out;
    out.hidden_states.push_back(embed(batch.ids));
    if (tape) tape->blocks.resize(static_cast<std::size_t>(c_.num_layers));
    for (Index l = 0; l < c_.num_layers; ++l) {
      MhaOutput seen;
      AttentionDropout layer_dropout = dropout;
      layer_dropout.seed = dropout.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(l);
      out.hidden_states.push_back(block(out.hidden_states.back(), l, options,
                                        tape ? &tape->blocks[static_cast<std::size_t>(l)] : nullptr,
                                        seen, layer_dropout));
      if (request.attention) out.attention.push_back(std::move(seen.weights));
      if (request.query_key) {
        out.queries.push_back(std::move(seen.queries));
        out.keys.push_back(std::move(seen.keys));
      }
    }
    out.output = c_.norm == NormPlacement::pre
                     ? layer_norm_forward(out.hidden_states.back(), param("final_norm.weight"),
                                          param("final_norm.bias"), c_.layer_norm_eps)
                     : out.hidden_states.back();
    out.logits = apply_linear(out.output, param("lm_head.weight"), param("lm_head.bias"), ctx_);
    if (tape) {
      tape->final_in = out.hidden_states.back();
      tape->output = out.output;
    }
    return out;
  }

 private:
  const TransformerConfig& c_;
  const Parameters& p_;
  const Context& ctx_;
};

}  // namespace

Transformer::Transformer(TransformerConfig config, Parameters params)
    : config_(config), params_(std::move(params)) {
  check_parameters(config_, params_);
}

EncoderOutput Transformer::forward(const Batch& batch, const ForwardRequest& request,
                                   const Context& ctx) const {
  return Pass(config_, params_, ctx).forward(batch, nullptr, request, {});
}

Transformer::LossAndGradients Transformer::loss_and_gradients(const Batch& batch,
                                                              const AttentionDropout& dropout,
                                                              const Context& ctx) const {
  if (batch.targets.shape() != batch.ids.shape())
    throw_invalid("targets", "shape " + shape_str(batch.ids.shape()) + " (like ids)",
                  shape_str(batch.targets.shape()));
  const Pass pass(config_, params_, ctx);
  ForwardTape tape;
  const EncoderOutput out = pass.forward(batch, &tape, {}, dropout);
  const Tensor<std::int64_t> targets = Tensor<std::int64_t>::copy_of(batch.targets);
  const Index rows = rows_of(out.logits);
  const CrossEntropy ce = cross_entropy(Tensor<>::copy_of(out.logits.view_as({rows, config_.vocab_size})),
                                        targets.values());
  LossAndGradients result;
  result.loss = ce.loss;
  result.predicted = ce.predicted;
  result.correct = ce.correct;
  Parameters& grads = result.gradients;

  Tensor<> dlogits = ce.dlogits;
  Tensor<> dlogits3 = Tensor<>::copy_of(dlogits.view_as(out.logits.shape()));
  LinearGrads head = linear_grads(tape.output, pass.param("lm_head.weight"), dlogits3, true, ctx);
  grads["lm_head.weight"] = std::move(head.dw);
  grads["lm_head.bias"] = std::move(head.db);
  Tensor<> d_x = std::move(head.dx);
  if (config_.norm == NormPlacement::pre) {
    LayerNormGradients g = layer_norm_backward(tape.final_in, pass.param("final_norm.weight"), d_x,
                                               config_.layer_norm_eps);
    grads["final_norm.weight"] = std::move(g.dgamma);
    grads["final_norm.bias"] = std::move(g.dbeta);
    d_x = std::move(g.dx);
  }
  for (Index l = config_.num_layers - 1; l >= 0; --l)
    d_x = pass.block_backward(tape.blocks[static_cast<std::size_t>(l)], l, d_x, grads);

  // x⁰ = E[ids]·√d + PE: each position adds √d·dx⁰ to its id's row.
  Tensor<> d_table(pass.param("embedding.weight").shape());
  const double scale = std::sqrt(static_cast<double>(config_.d_model));
  for (Index b = 0; b < batch.ids.dim(0); ++b)
    for (Index i = 0; i < batch.ids.dim(1); ++i) {
      const std::int64_t id = batch.ids(b, i);
      for (Index k = 0; k < config_.d_model; ++k)
        d_table(id, k) += static_cast<float>(d_x(b, i, k) * scale);
    }
  grads["embedding.weight"] = std::move(d_table);
  return result;
}

}  // namespace mha::train
