#include "mha/train/lm_evaluation.hpp"

#include <algorithm>
#include <cmath>

#include "mha/core/error.hpp"

namespace mha::train {

LmEvaluation evaluate_lm(const Transformer& model, const CausalBatch& batch,
                         const NextTokenGrammar& grammar, const Context& ctx) {
  if (!model.config().causal)
    throw_invalid("model", "a causal language model (causal = true)", "an encoder (causal = false)");
  const TensorView<const std::int64_t> ids(batch.inputs.data(), {batch.batch, batch.length});
  const TransformerOutput out = model.forward(
      {.input_ids = ids}, {.output_hidden_states = false, .output_attentions = false, .output_query_key = false},
      ctx);
  const Index vocab = model.config().vocab_size;
  double loss = 0, mass = 0;
  Index tokens = 0, correct = 0, grammatical = 0;
  for (Index b = 0; b < batch.batch; ++b) {
    const std::vector<std::int64_t>& stream = batch.streams[static_cast<std::size_t>(b)];
    for (Index t = 0; t < batch.length; ++t) {
      const std::int64_t target = batch.targets[static_cast<std::size_t>(b * batch.length + t)];
      if (target < 0) continue;
      const float* z = out.logits.data() + (b * batch.length + t) * vocab;
      const Index best = std::max_element(z, z + vocab) - z;
      // log Σ exp(z − z_best) + z_best, in double: the log-softmax of every row.
      double sum = 0;
      for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(z[v]) - z[best]);
      const double log_sum = z[best] + std::log(sum);
      const std::vector<std::int64_t>& allowed = grammar.allowed(stream, t);
      double allowed_p = 0;
      for (const std::int64_t w : allowed) allowed_p += std::exp(static_cast<double>(z[w]) - log_sum);
      loss += log_sum - z[target];
      mass += allowed_p;
      correct += best == target;
      grammatical += std::binary_search(allowed.begin(), allowed.end(), best);
      ++tokens;
    }
  }
  LmEvaluation e;
  e.tokens = tokens;
  if (tokens == 0) return e;
  const auto n = static_cast<double>(tokens);
  e.loss = loss / n;
  e.perplexity = std::exp(e.loss);
  e.accuracy = static_cast<double>(correct) / n;
  e.grammatical = static_cast<double>(grammatical) / n;
  e.allowed_mass = mass / n;
  return e;
}

}  // namespace mha::train
