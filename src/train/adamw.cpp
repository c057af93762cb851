// AdamW with warm-up, linear decay and global-norm clipping (formulas in mha/train/adamw.hpp).
#include "mha/train/adamw.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace mha::train {
namespace {

Parameters zeros_like(const Parameters& params) {
  Parameters zeros;
  for (const auto& [name, t] : params) zeros.emplace(name, Tensor<>(t.shape()));
  return zeros;
}

void check_like(const Parameters& expected, const Parameters& given, const char* what) {
  if (given.size() != expected.size())
    throw_invalid(what, std::to_string(expected.size()) + " tensors", std::to_string(given.size()));
  for (const auto& [name, t] : expected) {
    const auto it = given.find(name);
    if (it == given.end()) throw_invalid(std::string(what) + " " + name, "present", "missing");
    if (it->second.shape() != t.shape())
      throw_invalid(std::string(what) + " " + name, "shape " + shape_str(t.shape()),
                    shape_str(it->second.shape()));
  }
}

}  // namespace

void validate(const AdamWConfig& c) {
  auto in_open_unit = [](double x, const char* name) {
    if (!(x >= 0 && x < 1)) throw_invalid(name, "a number in [0, 1)", std::to_string(x));
  };
  if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate))
    throw_invalid("learning_rate", "a finite number > 0", std::to_string(c.learning_rate));
  in_open_unit(c.beta1, "beta1");
  in_open_unit(c.beta2, "beta2");
  if (!(c.epsilon > 0)) throw_invalid("epsilon", "> 0", std::to_string(c.epsilon));
  if (!(c.weight_decay >= 0)) throw_invalid("weight_decay", ">= 0", std::to_string(c.weight_decay));
  if (c.total_steps < 1) throw_invalid("total_steps", ">= 1", std::to_string(c.total_steps));
  if (c.warmup_steps < 0 || c.warmup_steps > c.total_steps)
    throw_invalid("warmup_steps", "in [0, total_steps " + std::to_string(c.total_steps) + "]",
                  std::to_string(c.warmup_steps));
  if (std::isnan(c.clip_norm)) throw_invalid("clip_norm", "a number", "nan");
}

AdamW::AdamW(AdamWConfig config, const Parameters& params)
    : config_(config), m_(zeros_like(params)), v_(zeros_like(params)) {
  validate(config_);
}

double AdamW::learning_rate(Index step) const {
  const auto t = static_cast<double>(step);
  const auto warmup = static_cast<double>(config_.warmup_steps);
  const auto total = static_cast<double>(config_.total_steps);
  if (step <= config_.warmup_steps) return config_.learning_rate * t / std::max(warmup, 1.0);
  if (config_.total_steps == config_.warmup_steps) return 0;
  return config_.learning_rate * std::max(0.0, (total - t) / (total - warmup));
}

double AdamW::step(Parameters& params, const Parameters& grads) {
  check_like(m_, params, "params");
  check_like(m_, grads, "grads");
  double squares = 0;
  for (const auto& [name, g] : grads)
    for (const float x : g.values()) squares += static_cast<double>(x) * x;
  const double norm = std::sqrt(squares);
  const double clip = config_.clip_norm > 0 && norm > config_.clip_norm ? config_.clip_norm / norm : 1.0;

  ++step_;
  const double lr = learning_rate(step_);
  const double c1 = 1 - std::pow(config_.beta1, static_cast<double>(step_));
  const double c2 = 1 - std::pow(config_.beta2, static_cast<double>(step_));
  for (auto& [name, theta] : params) {
    const Tensor<>& g = grads.at(name);
    Tensor<>& m = m_.at(name);
    Tensor<>& v = v_.at(name);
    const double decay = theta.rank() >= 2 ? config_.weight_decay : 0.0;
    for (Index i = 0; i < theta.numel(); ++i) {
      const double gi = g.data()[i] * clip;
      const double mi = config_.beta1 * m.data()[i] + (1 - config_.beta1) * gi;
      const double vi = config_.beta2 * v.data()[i] + (1 - config_.beta2) * gi * gi;
      m.data()[i] = static_cast<float>(mi);
      v.data()[i] = static_cast<float>(vi);
      const double update = (mi / c1) / (std::sqrt(vi / c2) + config_.epsilon) + decay * theta.data()[i];
      theta.data()[i] = static_cast<float>(theta.data()[i] - lr * update);
    }
  }
  return norm;
}

void AdamW::restore(Index steps_done, Parameters m, Parameters v) {
  if (steps_done < 0) throw_invalid("steps_done", ">= 0", std::to_string(steps_done));
  check_like(m_, m, "first moments");
  check_like(v_, v, "second moments");
  step_ = steps_done;
  m_ = std::move(m);
  v_ = std::move(v);
}

}  // namespace mha::train
