// The element-wise and row-wise pieces of a transformer, forward and backward, for training.
// Every function works on contiguous rows [R, N] (R = batch · length) and accumulates in double.
//
//   layer norm     y = x̂·γ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + eps)   (biased σ², nn.LayerNorm)
//                  dγ = Σ_rows dy·x̂,  dβ = Σ_rows dy,
//                  dx = r·(g − mean(g) − x̂·mean(g·x̂))  with g = dy·γ
//   activation     GELU' (x) = Φ(x) + x·φ(x);  ReLU'(x) = [x > 0]  (mha/layers/activation.hpp)
//   cross-entropy  over the rows whose target is ≥ 0:  loss = (1/T) Σ_t −log softmax(z_t)[y_t],
//                  dz_t = (softmax(z_t) − onehot(y_t)) / T;  rows with target −1 get dz = 0
//   positions      the sinusoidal encoding of "Attention Is All You Need" §3.5:
//                  PE(i, 2k) = sin(i / 10000^(2k/E)),  PE(i, 2k+1) = cos(i / 10000^(2k/E))
#pragma once

#include <cstdint>
#include <span>

#include "mha/core/tensor.hpp"
#include "mha/layers/activation.hpp"

namespace mha::train {

// y = LayerNorm(x): x [R, N], gamma/beta [N] → y [R, N].
Tensor<> layer_norm_forward(const Tensor<>& x, const Tensor<>& gamma, const Tensor<>& beta,
                            double eps);

struct LayerNormGradients {
  Tensor<> dx;      // [R, N]
  Tensor<> dgamma;  // [N]
  Tensor<> dbeta;   // [N]
};
// The gradients for dL/dy = dy, recomputing μ and r from x.
LayerNormGradients layer_norm_backward(const Tensor<>& x, const Tensor<>& gamma, const Tensor<>& dy,
                                       double eps);

// dL/dx for y = act(x), given x (the pre-activation) and dy; same shape.
Tensor<> activation_backward(Activation activation, const Tensor<>& x, const Tensor<>& dy);

struct CrossEntropy {
  double loss = 0;       // mean over the predicted rows (0 when there are none)
  Index predicted = 0;   // T: rows with a target ≥ 0
  Index correct = 0;     // rows whose argmax equals the target
  Tensor<> dlogits;      // [R, V]
};
// logits [R, V], targets [R] with values in [0, V) or −1 (not predicted). Throws mha::Error
// naming `targets` for a value outside that range.
CrossEntropy cross_entropy(const Tensor<>& logits, std::span<const std::int64_t> targets);

// PE for positions 0 … length−1: [length, width].
Tensor<> sinusoidal_positions(Index length, Index width);

}  // namespace mha::train
