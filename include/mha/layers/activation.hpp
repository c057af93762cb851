// Element-wise activations of transformer feed-forward blocks, by their Hugging Face names.
//
//   gelu        0.5·x·(1 + erf(x/√2)) = x·Φ(x)                "gelu" (exact)
//   gelu_tanh   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))    "gelu_new", "gelu_pytorch_tanh",
//                                                             "gelu_fast"
//   quick_gelu  x·σ(1.702·x)                                  "quick_gelu"
//   relu        max(x, 0)                                     "relu"
// Their derivatives, for backward:
//   gelu' = Φ(x) + x·φ(x);  gelu_tanh' = 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3a·x²) with
//   t = tanh(c·(x + a·x³)), c = √(2/π), a = 0.044715;  quick_gelu' = σ(kx) + k·x·σ(kx)·(1 − σ(kx))
//   with k = 1.702;  relu' = [x > 0]
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace mha {

enum class Activation : std::uint8_t { gelu, gelu_tanh, quick_gelu, relu };

// Accepts the Hugging Face config names above; throws mha::Error naming `argument`, the
// supported names and the given one otherwise.
Activation parse_activation(std::string_view name, std::string_view argument = "activation");
// The canonical name: "gelu", "gelu_new", "quick_gelu" or "relu".
std::string_view activation_name(Activation activation);

// Applies the activation in place (computed in float64, rounded once).
void apply_activation(Activation activation, std::span<float> values);

// Backward in place: grad ← act'(x)·grad, x the pre-activation (computed in float64, rounded
// once). Throws mha::Error unless both spans have the same length.
void activation_backward(Activation activation, std::span<const float> x, std::span<float> grad);

}  // namespace mha
