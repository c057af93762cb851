// scaled_dot_product_attention: q, k, v of rank 2, 3 or 4 are read as [B, H, L, D] by giving
// the missing leading dimensions extent 1; the mask broadcasts to [B, H, L, S].
#include "mha/layers/scaled_dot_product_attention.hpp"

#include <cmath>

#include "layers/mask_views.hpp"

namespace mha {
namespace {

template <class T>
TensorView<T> as_rank4(TensorView<T> x) {
  Shape shape = x.shape(), strides = x.strides();
  while (shape.size() < 4) {
    shape.insert(shape.begin(), 1);
    strides.insert(strides.begin(), 0);
  }
  return {x.data(), shape, strides};
}

void check_rank(TensorView<const float> x, const std::string& name, Index rank) {
  if (x.rank() != rank)
    throw_invalid(name, "rank " + std::to_string(rank) + " (like q: [L, D], [H, L, D] or [B, H, L, D])",
                  shape_str(x.shape()));
}

}  // namespace

SdpaOutput scaled_dot_product_attention(TensorView<const float> q, TensorView<const float> k,
                                        TensorView<const float> v, const SdpaOptions& options,
                                        const Context& ctx) {
  if (q.rank() < 2 || q.rank() > 4)
    throw_invalid("q", "shape [L, D], [H, L, D] or [B, H, L, D]", shape_str(q.shape()));
  check_rank(k, "k", q.rank());
  check_rank(v, "v", q.rank());
  const TensorView<const float> q4 = as_rank4(q), k4 = as_rank4(k), v4 = as_rank4(v);
  if (k4.dim(3) != q4.dim(3))
    throw_invalid("k", "last dimension " + std::to_string(q4.dim(3)) + " (as q)", shape_str(k.shape()));
  if (k4.dim(0) != q4.dim(0))
    throw_invalid("k", "batch " + std::to_string(q4.dim(0)) + " (as q)", shape_str(k.shape()));
  if (k4.dim(1) < 1 || q4.dim(1) % k4.dim(1) != 0)
    throw_invalid("k", "a head count dividing q's " + std::to_string(q4.dim(1)), shape_str(k.shape()));
  if (v4.dim(0) != k4.dim(0) || v4.dim(1) != k4.dim(1) || v4.dim(2) != k4.dim(2))
    throw_invalid("v", "the leading dimensions and length of k " + shape_str(k.shape()),
                  shape_str(v.shape()));

  const Index batch = q4.dim(0), heads = q4.dim(1), len = q4.dim(2), src = k4.dim(2), dv = v4.dim(3);
  Shape out_shape = q.shape();
  out_shape.back() = dv;
  Shape weights_shape = q.shape();
  weights_shape.back() = src;

  SdpaOutput result;
  result.output = Tensor<>(out_shape);
  if (options.need_weights) result.weights = Tensor<>(weights_shape);
  Shape lse_shape = q.shape();
  lse_shape.pop_back();
  if (options.need_lse) result.lse = Tensor<>(lse_shape);

  AttentionParams params;
  params.scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(q4.dim(3))));
  params.causal = options.is_causal;
  params.alignment = options.causal_alignment;
  params.window_left = options.window_left;
  if (options.attn_mask)
    params.masks.push_back(broadcast_mask(*options.attn_mask, {batch, heads, len, src}, "attn_mask"));

  attention({.q = q4, .k = k4, .v = v4,
             .out = TensorView<float>(result.output.data(), {batch, heads, len, dv}),
             .weights = options.need_weights
                            ? TensorView<float>(result.weights.data(), {batch, heads, len, src})
                            : TensorView<float>{},
             .lse = options.need_lse ? TensorView<float>(result.lse.data(), {batch, heads, len})
                                     : TensorView<float>{},
             .params = std::move(params)},
            ctx);
  return result;
}

}  // namespace mha
