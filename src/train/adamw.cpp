// AdamW with warm-up, linear decay and global-norm clipping (formulas in mha/train/adamw.hpp).
#include "mha/train/adamw.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace mha::train {
namespace {

void check_like(const TensorStore& expected, const TensorStore& given, const char* what) {
  check_layout(given, expected.layout(), what);
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

AdamW::AdamW(AdamWConfig config, const TensorStore& params)
    : config_(config), m_(params.shared_layout()), v_(params.shared_layout()) {
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

double AdamW::step(TensorStore& params, const TensorStore& grads) {
  check_like(m_, params, "params");
  check_like(m_, grads, "grads");
  const std::vector<Index> order = m_.layout().by_name();
  double squares = 0;
  for (const Index i : order) {
    const TensorView<const float> g = grads[i];
    for (Index k = 0; k < g.numel(); ++k) squares += static_cast<double>(g.data()[k]) * g.data()[k];
  }
  const double norm = std::sqrt(squares);
  const double clip = config_.clip_norm > 0 && norm > config_.clip_norm ? config_.clip_norm / norm : 1.0;

  ++step_;
  const double lr = learning_rate(step_);
  const double c1 = 1 - std::pow(config_.beta1, static_cast<double>(step_));
  const double c2 = 1 - std::pow(config_.beta2, static_cast<double>(step_));
  for (const Index i : order) {
    const TensorView<float> theta = params[i], m = m_[i], v = v_[i];
    const TensorView<const float> g = grads[i];
    const double decay = theta.rank() >= 2 ? config_.weight_decay : 0.0;
    for (Index k = 0; k < theta.numel(); ++k) {
      const double gi = g.data()[k] * clip;
      const double mi = config_.beta1 * m.data()[k] + (1 - config_.beta1) * gi;
      const double vi = config_.beta2 * v.data()[k] + (1 - config_.beta2) * gi * gi;
      m.data()[k] = static_cast<float>(mi);
      v.data()[k] = static_cast<float>(vi);
      const double update = (mi / c1) / (std::sqrt(vi / c2) + config_.epsilon) + decay * theta.data()[k];
      theta.data()[k] = static_cast<float>(theta.data()[k] - lr * update);
    }
  }
  return norm;
}

void AdamW::restore(Index steps_done, TensorStore m, TensorStore v) {
  if (steps_done < 0) throw_invalid("steps_done", ">= 0", std::to_string(steps_done));
  check_like(m_, m, "first moments");
  check_like(v_, v, "second moments");
  step_ = steps_done;
  m_ = std::move(m);
  v_ = std::move(v);
}

}  // namespace mha::train
