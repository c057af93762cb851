// LayerNorm over the last dimension (nn.LayerNorm):
//   μ = (1/N) Σ_n x_n,   σ² = (1/N) Σ_n (x_n − μ)²,   y_n = (x_n − μ) / sqrt(σ² + eps) · γ_n + β_n
#include "mha/layers/layer_norm.hpp"

#include <cmath>

namespace mha {
namespace {

// Normalises each contiguous row of `rows` in place.
void normalize_rows(Tensor<>& rows, const Tensor<>& gamma, const Tensor<>& beta, double eps) {
  const Index width = gamma.dim(0);
  const Index count = width == 0 ? 0 : rows.numel() / width;
  for (Index r = 0; r < count; ++r) {
    float* row = rows.data() + r * width;
    double sum = 0;
    for (Index n = 0; n < width; ++n) sum += row[n];
    const double mean = sum / static_cast<double>(width);
    double squares = 0;
    for (Index n = 0; n < width; ++n) squares += (row[n] - mean) * (row[n] - mean);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(width) + eps);
    for (Index n = 0; n < width; ++n)
      row[n] = static_cast<float>((row[n] - mean) * inv_std * gamma.data()[n] + beta.data()[n]);
  }
}

}  // namespace

LayerNorm::LayerNorm(Tensor<> weight, Tensor<> bias, double eps)
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

Tensor<> LayerNorm::forward(TensorView<const float> x) const {
  if (x.rank() < 1 || x.dim(-1) != normalized_size())
    throw_invalid("x", "last dimension " + std::to_string(normalized_size()), shape_str(x.shape()));
  Tensor<> y = Tensor<>::copy_of(x);
  normalize_rows(y, weight_, bias_, eps_);
  return y;
}

Tensor<> LayerNorm::forward(TensorView<const float> x, TensorView<const float> residual) const {
  if (residual.shape() != x.shape())
    throw_invalid("residual", "shape " + shape_str(x.shape()) + " (like x)",
                  shape_str(residual.shape()));
  if (x.rank() < 1 || x.dim(-1) != normalized_size())
    throw_invalid("x", "last dimension " + std::to_string(normalized_size()), shape_str(x.shape()));
  Tensor<> sum = Tensor<>::copy_of(x);
  const Tensor<> r = Tensor<>::copy_of(residual);
  for (Index i = 0; i < sum.numel(); ++i) sum.data()[i] += r.data()[i];
  normalize_rows(sum, weight_, bias_, eps_);
  return sum;
}

}  // namespace mha
