// Cross-entropy and its gradient (formulas in mha/train/cross_entropy.hpp).
#include "mha/train/cross_entropy.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace mha::train {

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

}  // namespace mha::train
