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

double slope(Activation activation, double x) {
  switch (activation) {
    case Activation::gelu: {
      const double cdf = 0.5 * std::erfc(-x / std::numbers::sqrt2);
      const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
      return cdf + x * pdf;
    }
    case Activation::gelu_tanh: {
      const double c = std::sqrt(2 / std::numbers::pi), a = 0.044715;
      const double t = std::tanh(c * (x + a * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x);
    }
    case Activation::quick_gelu: {
      const double k = 1.702, sig = 1 / (1 + std::exp(-k * x));
      return sig + k * x * sig * (1 - sig);
    }
    case Activation::relu:
      return x > 0 ? 1.0 : 0.0;
  }
  return 0.0;
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

void activation_backward(Activation activation, std::span<const float> x, std::span<float> grad) {
  if (grad.size() != x.size())
    throw_invalid("grad", std::to_string(x.size()) + " values (like x)", std::to_string(grad.size()));
  for (std::size_t i = 0; i < x.size(); ++i)
    grad[i] = static_cast<float>(slope(activation, x[i]) * grad[i]);
}

}  // namespace mha
