// The k-relation task's design check: a softmax regression given the answer tokens
// (relation_task.hpp, oracle_readout).
#include <algorithm>
#include <cmath>
#include <vector>

#include "mha/train/relation_task.hpp"

namespace mha::train {

OracleResult oracle_readout(const RelationTask& task, OracleFeatures features, Index steps) {
  validate(task);
  const Index k = task.relations, m = task.values;
  Index tuples = 1;
  for (Index r = 0; r < k; ++r) tuples *= m;
  const Index width = features == OracleFeatures::roles_kept ? k * m : m;
  // x[t] = the features of tuple t (digit r of t = the token of relation r); the class is t.
  std::vector<double> x(static_cast<std::size_t>(tuples * width), 0.0);
  for (Index t = 0; t < tuples; ++t)
    for (Index r = 0, rest = t; r < k; ++r, rest /= m) {
      const Index column = features == OracleFeatures::roles_kept ? r * m + rest % m : rest % m;
      x[static_cast<std::size_t>(t * width + column)] +=
          features == OracleFeatures::roles_kept ? 1.0 : 1.0 / static_cast<double>(k);
    }
  std::vector<double> w(static_cast<std::size_t>(tuples * width), 0.0), b(static_cast<std::size_t>(tuples), 0.0);
  std::vector<double> p(static_cast<std::size_t>(tuples * tuples));
  auto logits = [&] {  // p[t][c] = softmax_c(w_c · x_t + b_c)
    for (Index t = 0; t < tuples; ++t) {
      double* row = &p[static_cast<std::size_t>(t * tuples)];
      for (Index c = 0; c < tuples; ++c) {
        double z = b[static_cast<std::size_t>(c)];
        for (Index f = 0; f < width; ++f)
          z += w[static_cast<std::size_t>(c * width + f)] * x[static_cast<std::size_t>(t * width + f)];
        row[c] = z;
      }
      const double top = *std::max_element(row, row + tuples);
      double sum = 0;
      for (Index c = 0; c < tuples; ++c) sum += row[c] = std::exp(row[c] - top);
      for (Index c = 0; c < tuples; ++c) row[c] /= sum;
    }
  };
  // Gradient descent on the mean cross-entropy. A class's weights see its one tuple, so their
  // gradient and curvature are ~1/tuples: the step is scaled by tuples; 2·tuples/k stays below
  // the stability bound (curvature ≤ k/(4·tuples) with k active features per tuple).
  const double rate = 2.0 * static_cast<double>(tuples) / static_cast<double>(k);
  std::vector<double> gw(w.size()), gb(b.size());
  for (Index step = 0; step < steps; ++step) {
    logits();
    std::fill(gw.begin(), gw.end(), 0.0);
    std::fill(gb.begin(), gb.end(), 0.0);
    for (Index t = 0; t < tuples; ++t)
      for (Index c = 0; c < tuples; ++c) {
        const double g = (p[static_cast<std::size_t>(t * tuples + c)] - (c == t ? 1.0 : 0.0)) /
                         static_cast<double>(tuples);
        gb[static_cast<std::size_t>(c)] += g;
        for (Index f = 0; f < width; ++f)
          gw[static_cast<std::size_t>(c * width + f)] += g * x[static_cast<std::size_t>(t * width + f)];
      }
    for (std::size_t i = 0; i < w.size(); ++i) w[i] -= rate * gw[i];
    for (std::size_t i = 0; i < b.size(); ++i) b[i] -= rate * gb[i];
  }
  logits();
  OracleResult result;
  for (Index t = 0; t < tuples; ++t) {
    const double* row = &p[static_cast<std::size_t>(t * tuples)];
    const Index best = std::max_element(row, row + tuples) - row;
    result.tuple_accuracy += best == t ? 1.0 : 0.0;
    // Per relation: the argmax of the marginal over the tuples with that digit.
    for (Index r = 0, place = 1; r < k; ++r, place *= m) {
      std::vector<double> marginal(static_cast<std::size_t>(m), 0.0);
      for (Index c = 0; c < tuples; ++c) marginal[static_cast<std::size_t>(c / place % m)] += row[c];
      const Index guess = std::max_element(marginal.begin(), marginal.end()) - marginal.begin();
      result.relation_accuracy += guess == t / place % m ? 1.0 / static_cast<double>(k) : 0.0;
    }
  }
  result.relation_accuracy /= static_cast<double>(tuples);
  result.tuple_accuracy /= static_cast<double>(tuples);
  return result;
}

}  // namespace mha::train
