// Activations by their Hugging Face names (transformers' ACT2FN), evaluated in float64.
#include "mha/layers/activation.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "mha/core/error.hpp"

namespace mha {
namespace {

double activate(Activation activation, double x) {
  switch (activation) {
    case Activation::gelu:  // x · Φ(x)
      return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case Activation::gelu_tanh: {  // Hendrycks & Gimpel's tanh approximation of Φ
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case Activation::quick_gelu:  // x · σ(1.702·x)
      return x / (1.0 + std::exp(-1.702 * x));
    case Activation::relu:
      return x > 0 ? x : 0.0;
  }
  return x;
}

}  // namespace

Activation parse_activation(std::string_view name, std::string_view argument) {
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::gelu_tanh;
  if (name == "quick_gelu") return Activation::quick_gelu;
  if (name == "relu") return Activation::relu;
  throw_invalid(std::string(argument),
                "one of gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu",
                "\"" + std::string(name) + "\"");
}

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::gelu:
      return "gelu";
    case Activation::gelu_tanh:
      return "gelu_new";
    case Activation::quick_gelu:
      return "quick_gelu";
    case Activation::relu:
      return "relu";
  }
  return "unknown";
}

void apply_activation(Activation activation, std::span<float> values) {
  for (float& v : values) v = static_cast<float>(activate(activation, v));
}

}  // namespace mha
