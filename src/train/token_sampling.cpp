#include "mha/train/token_sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/random_draws.hpp"
#include "mha/core/error.hpp"

namespace mha::train {
namespace {

std::size_t argmax(std::span<const float> z) {
  return static_cast<std::size_t>(std::max_element(z.begin(), z.end()) - z.begin());
}

// Zeroes every entry outside `kept` (ids) and rescales the rest to sum 1.
void keep_only(std::vector<double>& p, std::span<const std::size_t> kept) {
  std::vector<double> out(p.size(), 0.0);
  double sum = 0;
  for (const std::size_t i : kept) sum += p[i];
  for (const std::size_t i : kept) out[i] = p[i] / sum;
  p = std::move(out);
}

}  // namespace

void validate(const SamplingParams& s) {
  if (!std::isfinite(s.temperature) || s.temperature < 0)
    throw_invalid("temperature", "a finite number >= 0 (0 = greedy)", std::to_string(s.temperature));
  if (s.top_k < 0) throw_invalid("top_k", ">= 0 (0 = no limit)", std::to_string(s.top_k));
  if (!(s.top_p > 0 && s.top_p <= 1)) throw_invalid("top_p", "in (0, 1]", std::to_string(s.top_p));
}

std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingParams& params) {
  validate(params);
  if (logits.empty()) throw_invalid("logits", "at least one value", "none");
  std::vector<double> p(logits.size(), 0.0);
  const std::size_t best = argmax(logits);
  if (params.temperature == 0) {
    p[best] = 1;
    return p;
  }
  // softmax(z / T), shifted by the maximum so no exponent overflows.
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = std::exp((static_cast<double>(logits[i]) - logits[best]) / params.temperature);
    sum += p[i];
  }
  for (double& v : p) v /= sum;
  // Most probable first; equal probabilities by id, so the order (and the draw) is well defined.
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
  std::size_t kept = order.size();
  if (params.top_k > 0) kept = std::min(kept, static_cast<std::size_t>(params.top_k));
  keep_only(p, std::span(order).first(kept));
  if (params.top_p < 1) {
    double mass = 0;
    std::size_t n = 0;
    while (n < kept && mass < params.top_p) mass += p[order[n++]];
    keep_only(p, std::span(order).first(std::max<std::size_t>(n, 1)));
  }
  return p;
}

std::int64_t sample_token(std::span<const float> logits, const SamplingParams& params,
                          std::mt19937_64& rng) {
  const std::vector<double> p = sampling_distribution(logits, params);
  if (params.temperature == 0) return static_cast<std::int64_t>(argmax(logits));
  const double u = uniform_unit(rng);
  double cumulative = 0;
  std::size_t last = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    last = i;
    cumulative += p[i];
    if (u < cumulative) return static_cast<std::int64_t>(i);
  }
  return static_cast<std::int64_t>(last);  // rounding left the sum a hair under u
}

}  // namespace mha::train
