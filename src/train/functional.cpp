// Forward and backward of the row-wise transformer pieces (formulas in mha/train/functional.hpp).
#include "mha/train/functional.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

namespace mha::train {
namespace {

Index rows_of(const Tensor<>& x, Index width) { return width == 0 ? 0 : x.numel() / width; }

void check_rows(const Tensor<>& x, Index width, const char* name) {
  if (!x.defined() || x.rank() < 1 || x.dim(-1) != width)
    throw_invalid(name, "last dimension " + std::to_string(width),
                  x.defined() ? shape_str(x.shape()) : "none");
}

struct RowStats {
  double mean, inv_std;
};

RowStats row_stats(const float* row, Index width, double eps) {
  double sum = 0;
  for (Index n = 0; n < width; ++n) sum += row[n];
  const double mean = sum / static_cast<double>(width);
  double squares = 0;
  for (Index n = 0; n < width; ++n) squares += (row[n] - mean) * (row[n] - mean);
  return {mean, 1.0 / std::sqrt(squares / static_cast<double>(width) + eps)};
}

}  // namespace

Tensor<> layer_norm_forward(const Tensor<>& x, const Tensor<>& gamma, const Tensor<>& beta,
                            double eps) {
  const Index width = gamma.numel();
  check_rows(x, width, "x");
  Tensor<> y(x.shape());
  for (Index r = 0; r < rows_of(x, width); ++r) {
    const float* in = x.data() + r * width;
    float* out = y.data() + r * width;
    const RowStats s = row_stats(in, width, eps);
    for (Index n = 0; n < width; ++n)
      out[n] = static_cast<float>((in[n] - s.mean) * s.inv_std * gamma.data()[n] + beta.data()[n]);
  }
  return y;
}

LayerNormGradients layer_norm_backward(const Tensor<>& x, const Tensor<>& gamma, const Tensor<>& dy,
                                       double eps) {
  const Index width = gamma.numel();
  check_rows(x, width, "x");
  if (dy.shape() != x.shape())
    throw_invalid("dy", "shape " + shape_str(x.shape()) + " (like x)", shape_str(dy.shape()));
  LayerNormGradients g{Tensor<>(x.shape()), Tensor<>({width}), Tensor<>({width})};
  std::vector<double> dgamma(static_cast<std::size_t>(width)), dbeta(dgamma.size()),
      xhat(dgamma.size()), gx(dgamma.size());
  for (Index r = 0; r < rows_of(x, width); ++r) {
    const float* in = x.data() + r * width;
    const float* d_out = dy.data() + r * width;
    const RowStats s = row_stats(in, width, eps);
    double mean_g = 0, mean_gx = 0;
    for (Index n = 0; n < width; ++n) {
      const auto u = static_cast<std::size_t>(n);
      xhat[u] = (in[n] - s.mean) * s.inv_std;
      gx[u] = static_cast<double>(d_out[n]) * gamma.data()[n];
      dgamma[u] += static_cast<double>(d_out[n]) * xhat[u];
      dbeta[u] += d_out[n];
      mean_g += gx[u];
      mean_gx += gx[u] * xhat[u];
    }
    mean_g /= static_cast<double>(width);
    mean_gx /= static_cast<double>(width);
    float* dx = g.dx.data() + r * width;
    for (Index n = 0; n < width; ++n) {
      const auto u = static_cast<std::size_t>(n);
      dx[n] = static_cast<float>(s.inv_std * (gx[u] - mean_g - xhat[u] * mean_gx));
    }
  }
  for (Index n = 0; n < width; ++n) {
    g.dgamma.data()[n] = static_cast<float>(dgamma[static_cast<std::size_t>(n)]);
    g.dbeta.data()[n] = static_cast<float>(dbeta[static_cast<std::size_t>(n)]);
  }
  return g;
}

Tensor<> activation_backward(Activation activation, const Tensor<>& x, const Tensor<>& dy) {
  if (dy.shape() != x.shape())
    throw_invalid("dy", "shape " + shape_str(x.shape()) + " (like x)", shape_str(dy.shape()));
  Tensor<> dx(x.shape());
  for (Index i = 0; i < x.numel(); ++i) {
    const double v = x.data()[i];
    double slope = 0;
    switch (activation) {
      case Activation::relu: slope = v > 0 ? 1.0 : 0.0; break;
      case Activation::gelu: {
        // d/dx [x·Φ(x)] = Φ(x) + x·φ(x)
        const double cdf = 0.5 * std::erfc(-v / std::numbers::sqrt2);
        const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * std::numbers::pi);
        slope = cdf + v * pdf;
        break;
      }
      case Activation::gelu_tanh: {
        // d/dx [0.5·x·(1 + tanh(u))], u = c·(x + a·x³): 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3a·x²)
        const double c = std::sqrt(2 / std::numbers::pi), a = 0.044715;
        const double t = std::tanh(c * (v + a * v * v * v));
        slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * a * v * v);
        break;
      }
      case Activation::quick_gelu: {
        // d/dx [x·σ(kx)] = σ(kx) + k·x·σ(kx)·(1 − σ(kx))
        const double k = 1.702, sig = 1 / (1 + std::exp(-k * v));
        slope = sig + k * v * sig * (1 - sig);
        break;
      }
    }
    dx.data()[i] = static_cast<float>(slope * dy.data()[i]);
  }
  return dx;
}

CrossEntropy cross_entropy(const Tensor<>& logits, std::span<const std::int64_t> targets) {
  if (!logits.defined() || logits.rank() != 2)
    throw_invalid("logits", "a rank-2 tensor [R, V]",
                  logits.defined() ? shape_str(logits.shape()) : "none");
  const Index rows = logits.dim(0), vocab = logits.dim(1);
  if (static_cast<Index>(targets.size()) != rows)
    throw_invalid("targets", std::to_string(rows) + " values (one per row)",
                  std::to_string(targets.size()));
  CrossEntropy ce{.dlogits = Tensor<>(logits.shape())};
  for (Index r = 0; r < rows; ++r) {
    const std::int64_t t = targets[static_cast<std::size_t>(r)];
    if (t < -1 || t >= vocab)
      throw_invalid("targets", "−1 or a class in [0, " + std::to_string(vocab) + ")",
                    std::to_string(t) + " at row " + std::to_string(r));
    if (t >= 0) ++ce.predicted;
  }
  if (ce.predicted == 0) return ce;
  const double inv_count = 1.0 / static_cast<double>(ce.predicted);
  double total = 0;
  for (Index r = 0; r < rows; ++r) {
    const std::int64_t t = targets[static_cast<std::size_t>(r)];
    if (t < 0) continue;
    const float* z = logits.data() + r * vocab;
    Index best = 0;
    double max = -std::numeric_limits<double>::infinity();
    for (Index v = 0; v < vocab; ++v)
      if (z[v] > max) max = z[v], best = v;
    double sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(z[v] - max);
    const double log_sum = max + std::log(sum);
    total += log_sum - z[t];
    if (best == t) ++ce.correct;
    float* dz = ce.dlogits.data() + r * vocab;
    for (Index v = 0; v < vocab; ++v)
      dz[v] = static_cast<float>((std::exp(z[v] - log_sum) - (v == t ? 1.0 : 0.0)) * inv_count);
  }
  ce.loss = total * inv_count;
  return ce;
}

Tensor<> sinusoidal_positions(Index length, Index width) {
  if (length < 0 || width < 1)
    throw_invalid("length, width", "length ≥ 0 and width ≥ 1",
                  std::to_string(length) + ", " + std::to_string(width));
  Tensor<> pe({length, width});
  for (Index pos = 0; pos < length; ++pos)
    for (Index dim = 0; dim < width; ++dim) {
      // Dimensions 2k and 2k+1 share the frequency 1 / 10000^(2k / width).
      const auto two_k = static_cast<double>(dim - dim % 2);
      const double angle =
          static_cast<double>(pos) / std::pow(10000.0, two_k / static_cast<double>(width));
      pe(pos, dim) = static_cast<float>(dim % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return pe;
}

}  // namespace mha::train
