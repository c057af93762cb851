// LayerNorm over the last dimension (formulas in mha/layers/layer_norm.hpp).
#include "mha/layers/layer_norm.hpp"

#include <cmath>
#include <vector>

namespace mha {
namespace {

struct RowStats {
  double mean, inv_std;
};

// μ and r = 1/sqrt(σ² + eps) of one row, both passes in float64.
RowStats row_stats(const float* row, Index width, double eps) {
  double sum = 0;
  for (Index n = 0; n < width; ++n) sum += row[n];
  const double mean = sum / static_cast<double>(width);
  double squares = 0;
  for (Index n = 0; n < width; ++n) squares += (row[n] - mean) * (row[n] - mean);
  return {mean, 1.0 / std::sqrt(squares / static_cast<double>(width) + eps)};
}

Index rows_of(const Tensor<>& x, Index width) { return x.numel() / width; }

// Normalises each contiguous row of `rows` in place.
void normalize_rows(Tensor<>& rows, const Weight& gamma, const Weight& beta, double eps) {
  const Index width = gamma.dim(0);
  for (Index r = 0; r < rows_of(rows, width); ++r) {
    float* row = rows.data() + r * width;
    const RowStats s = row_stats(row, width, eps);
    for (Index n = 0; n < width; ++n)
      row[n] = static_cast<float>((row[n] - s.mean) * s.inv_std * gamma.data()[n] + beta.data()[n]);
  }
}

}  // namespace

LayerNorm::LayerNorm(Weight weight, Weight bias, double eps)
    : weight_(std::move(weight)), bias_(std::move(bias)), eps_(eps) {
  if (!weight_.defined() || weight_.rank() != 1 || weight_.dim(0) < 1)
    throw_invalid("weight", "a non-empty rank-1 tensor [N]",
                  weight_.defined() ? shape_str(weight_.shape()) : "none");
  if (!bias_.defined() || bias_.shape() != weight_.shape())
    throw_invalid("bias", "shape " + shape_str(weight_.shape()) + " (like weight)",
                  bias_.defined() ? shape_str(bias_.shape()) : "none");
  if (!std::isfinite(eps_) || eps_ <= 0)
    throw_invalid("eps", "a finite number > 0", std::to_string(eps_));
}

Tensor<> LayerNorm::forward(TensorView<const float> x, LayerNormTape* tape) const {
  if (x.rank() < 1 || x.dim(-1) != normalized_size())
    throw_invalid("x", "last dimension " + std::to_string(normalized_size()), shape_str(x.shape()));
  Tensor<> y = Tensor<>::copy_of(x);
  if (tape) tape->input = y;
  normalize_rows(y, weight_, bias_, eps_);
  return y;
}

Tensor<> LayerNorm::forward(TensorView<const float> x, TensorView<const float> residual,
                            LayerNormTape* tape) const {
  if (residual.shape() != x.shape())
    throw_invalid("residual", "shape " + shape_str(x.shape()) + " (like x)",
                  shape_str(residual.shape()));
  if (x.rank() < 1 || x.dim(-1) != normalized_size())
    throw_invalid("x", "last dimension " + std::to_string(normalized_size()), shape_str(x.shape()));
  Tensor<> sum = Tensor<>::copy_of(x);
  const Tensor<> r = Tensor<>::copy_of(residual);
  for (Index i = 0; i < sum.numel(); ++i) sum.data()[i] += r.data()[i];
  if (tape) tape->input = sum;
  normalize_rows(sum, weight_, bias_, eps_);
  return sum;
}

Tensor<> LayerNorm::backward(const LayerNormTape& tape, TensorView<const float> grad_y,
                             const LayerNormGradients& grads) const {
  const Tensor<>& x = tape.input;
  const Index width = normalized_size();
  if (grad_y.shape() != x.shape())
    throw_invalid("grad_y", "the input's shape " + shape_str(x.shape()), shape_str(grad_y.shape()));
  for (const TensorView<float>& g : {grads.weight, grads.bias})
    if (g.defined() && g.shape() != Shape{width})
      throw_invalid("grads", "views of shape " + shape_str(Shape{width}), shape_str(g.shape()));
  const Tensor<> dy = Tensor<>::copy_of(grad_y);
  Tensor<> dx(x.shape());
  std::vector<double> dgamma(static_cast<std::size_t>(width)), dbeta(dgamma.size()),
      xhat(dgamma.size()), gx(dgamma.size());
  for (Index r = 0; r < rows_of(x, width); ++r) {
    const float* in = x.data() + r * width;
    const float* d_out = dy.data() + r * width;
    const RowStats s = row_stats(in, width, eps_);
    double mean_g = 0, mean_gx = 0;
    for (Index n = 0; n < width; ++n) {
      const auto u = static_cast<std::size_t>(n);
      xhat[u] = (in[n] - s.mean) * s.inv_std;
      gx[u] = static_cast<double>(d_out[n]) * weight_.data()[n];
      dgamma[u] += static_cast<double>(d_out[n]) * xhat[u];
      dbeta[u] += d_out[n];
      mean_g += gx[u];
      mean_gx += gx[u] * xhat[u];
    }
    mean_g /= static_cast<double>(width);
    mean_gx /= static_cast<double>(width);
    float* d_in = dx.data() + r * width;
    for (Index n = 0; n < width; ++n) {
      const auto u = static_cast<std::size_t>(n);
      d_in[n] = static_cast<float>(s.inv_std * (gx[u] - mean_g - xhat[u] * mean_gx));
    }
  }
  for (Index n = 0; n < width; ++n) {
    if (grads.weight.defined()) grads.weight(n) = static_cast<float>(dgamma[static_cast<std::size_t>(n)]);
    if (grads.bias.defined()) grads.bias(n) = static_cast<float>(dbeta[static_cast<std::size_t>(n)]);
  }
  return dx;
}

}  // namespace mha
