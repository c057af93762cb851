// The MultiHeadAttention backward pass: the forward's three steps undone in reverse order
// (formulas in mha/layers/multi_head_attention_backward.hpp).
#include "mha/layers/multi_head_attention_backward.hpp"

#include "layers/mask_views.hpp"  // MaskStorage, held by MhaTape
#include "layers/mha_views.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/linear_backward.hpp"

namespace mha {
namespace {

using mha_views::batch_first;
using mha_views::heads;

// into[0, 0, :] = Σ_b dx[b, row, :]: the gradient of a [1, 1, width] parameter repeated at one
// row of each batch.
void sum_over_batch(const Tensor<>& dx, Index row, const TensorView<float>& into) {
  const Index batch = dx.dim(0), width = dx.dim(2);
  for (Index x = 0; x < width; ++x) {
    double acc = 0.0;
    for (Index b = 0; b < batch; ++b) acc += dx(b, row, x);
    into(0, 0, x) = static_cast<float>(acc);
  }
}

// A weight gradient view must match its weight: present exactly where the weight is.
void check_gradient(const Weight& weight, const TensorView<float>& grad, const char* name) {
  if (weight.defined() != grad.defined() || (weight.defined() && grad.shape() != weight.shape()))
    throw_invalid(std::string("into.") + name,
                  weight.defined() ? "a view of shape " + shape_str(weight.shape()) : "no view (the layer has no " + std::string(name) + ")",
                  grad.defined() ? "shape " + shape_str(grad.shape()) : "none");
}

}  // namespace

MhaInputGradients backward(const MultiHeadAttention& layer, const MhaTape& tape,
                           TensorView<const float> grad_output, const MhaWeightGradients& into,
                           const Context& ctx) {
  const MhaConfig& c = layer.config();
  const MhaWeights& w = layer.weights();
  if (grad_output.shape() != tape.output_shape)
    throw_invalid("grad_output", "the output's shape " + shape_str(tape.output_shape),
                  shape_str(grad_output.shape()));
  const Index batch = tape.query.dim(0), len = tape.query.dim(1), src_len = tape.key.dim(1);
  const Index e = c.embed_dim, h = c.num_heads, kv_heads = c.num_kv_heads, d = layer.head_dim();
  const Index kv_width = kv_heads * d, kv_len = tape.k.dim(1);
  for_each_mha_tensor([](const char* name, const Weight& weight,
                          const TensorView<float>& grad) { check_gradient(weight, grad, name); },
                      w, into);
  const MhaWeightGradients& g = into;
  MhaInputGradients result;

  // 3⁻¹. Output projection: dW_O = dYᵀ·concat, db_O = Σ dY, d concat = dY·W_O.
  const TensorView<const float> grad_y = batch_first(grad_output, tape.batch_first);
  Tensor<> grad_concat({batch, len, e});
  linear_backward({.x = tape.concat.view(),
                   .weight = w.out_proj_weight.view(),
                   .grad_y = grad_y,
                   .grad_x = grad_concat.view(),
                   .grad_weight = g.out_proj_weight,
                   .grad_bias = g.out_proj_bias},
                  ctx);

  // 2⁻¹. Attention: dq, dk, dv from the recomputed probabilities.
  Tensor<> grad_q({batch, len, e}), grad_k({batch, kv_len, kv_width}),
      grad_v({batch, kv_len, kv_width});
  attention_backward({.q = heads<const float>(tape.q.data(), batch, h, len, d, e),
                      .k = heads<const float>(tape.k.data(), batch, kv_heads, kv_len, d, kv_width),
                      .v = heads<const float>(tape.v.data(), batch, kv_heads, kv_len, d, kv_width),
                      .lse = tape.lse.view(),
                      .grad_out = heads<const float>(grad_concat.data(), batch, h, len, d, e),
                      .out = heads<const float>(tape.concat.data(), batch, h, len, d, e),
                      .grad_q = heads<float>(grad_q.data(), batch, h, len, d, e),
                      .grad_k = heads<float>(grad_k.data(), batch, kv_heads, kv_len, d, kv_width),
                      .grad_v = heads<float>(grad_v.data(), batch, kv_heads, kv_len, d, kv_width),
                      .params = tape.params,
                      .dropout = tape.dropout},
                     ctx);
  if (c.add_bias_kv) {  // bias_k / bias_v were key/value position S of every batch
    sum_over_batch(grad_k, src_len, g.bias_k);
    sum_over_batch(grad_v, src_len, g.bias_v);
  }

  // 1⁻¹. Input projections, over the S real key/value rows only.
  result.d_query = Tensor<>(tape.query_shape);
  result.d_key = Tensor<>(tape.key_shape);
  result.d_value = Tensor<>(tape.value_shape);
  const Shape kv_strides = {kv_len * kv_width, kv_width, 1};
  const ProjectionRows<const float> wq = projection_rows(w, c, Projection::query),
                                    wk = projection_rows(w, c, Projection::key),
                                    wv = projection_rows(w, c, Projection::value);
  const ProjectionRows<float> gq = projection_rows(g, c, Projection::query),
                              gk = projection_rows(g, c, Projection::key),
                              gv = projection_rows(g, c, Projection::value);
  linear_backward({.x = tape.query.view(),
                   .weight = wq.weight,
                   .grad_y = grad_q.view(),
                   .grad_x = batch_first(result.d_query.view(), tape.batch_first),
                   .grad_weight = gq.weight,
                   .grad_bias = gq.bias},
                  ctx);
  linear_backward(
      {.x = tape.key.view(),
       .weight = wk.weight,
       .grad_y = TensorView<const float>(grad_k.data(), {batch, src_len, kv_width}, kv_strides),
       .grad_x = batch_first(result.d_key.view(), tape.batch_first),
       .grad_weight = gk.weight,
       .grad_bias = gk.bias},
      ctx);
  linear_backward(
      {.x = tape.value.view(),
       .weight = wv.weight,
       .grad_y = TensorView<const float>(grad_v.data(), {batch, src_len, kv_width}, kv_strides),
       .grad_x = batch_first(result.d_value.view(), tape.batch_first),
       .grad_weight = gv.weight,
       .grad_bias = gv.bias},
      ctx);
  return result;
}

MhaGradients backward(const MultiHeadAttention& layer, const MhaTape& tape,
                      TensorView<const float> grad_output, const Context& ctx) {
  const MhaWeights& w = layer.weights();
  MhaGradients g;
  MhaWeightGradients into;
  for_each_mha_tensor(
      [](const char*, const Weight& weight, Tensor<>& grad, TensorView<float>& view) {
        if (!weight.defined()) return;
        grad = Tensor<>(weight.shape());
        view = grad.view();
      },
      w, static_cast<MhaTensors<Tensor<>>&>(g), into);
  static_cast<MhaInputGradients&>(g) = backward(layer, tape, grad_output, into, ctx);
  return g;
}

}  // namespace mha
