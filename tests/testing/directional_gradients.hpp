// A Transformer's gradient store checked against central differences of its loss, one random
// ±1 direction per tensor: for direction u, Σ g·u must equal (L(θ + h·u) − L(θ − h·u)) / 2h.
// h = 3e-3 and the tolerance 2e-3·|fd| + 2e-4 suit float32 parameters with float64 reference
// kernels (the callers' models are small, so the loss is smooth over ±h).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mha/models/transformer.hpp"

namespace mha::testing {

inline void expect_directional_gradients(const Transformer& model, const TensorStore& gradients,
                                         const std::function<double(const Transformer&)>& loss_of) {
  std::mt19937 directions(11);
  const double h = 3e-3;
  for (Index tensor = 0; tensor < gradients.size(); ++tensor) {
    const TensorView<const float> grad = gradients[tensor];
    const std::string& name = gradients.layout().entry(tensor).name;
    std::vector<float> direction(static_cast<std::size_t>(grad.numel()));
    double expected = 0;
    for (Index i = 0; i < grad.numel(); ++i) {
      direction[static_cast<std::size_t>(i)] = directions() % 2 ? 1.0f : -1.0f;
      expected += static_cast<double>(grad.data()[i]) * direction[static_cast<std::size_t>(i)];
    }
    auto loss_at = [&](double step) {
      Transformer moved = model;
      const TensorView<float> t = moved.mutable_parameters()[tensor];
      for (Index i = 0; i < t.numel(); ++i)
        t.data()[i] += static_cast<float>(step * direction[static_cast<std::size_t>(i)]);
      return loss_of(moved);
    };
    const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
    EXPECT_NEAR(expected, fd, 2e-3 * std::fabs(fd) + 2e-4) << name;
  }
}

}  // namespace mha::testing
