// The k-relation task: sampling, scoring and the equal-weight ceiling (relation_task.hpp).
#include "mha/train/relation_task.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/random_draws.hpp"
#include "mha/core/error.hpp"

namespace mha::train {
namespace {

constexpr Index kMaxRelations = 4;

Index power(Index base, Index exponent) {
  Index p = 1;
  for (Index e = 0; e < exponent; ++e) p *= base;
  return p;
}

// The answer id of one position: m + Σ_r x_{i−d_r}·m^r.
std::int64_t answer_at(const RelationTask& task, const std::int64_t* row, Index i) {
  std::int64_t code = 0, place = 1;
  for (Index r = 0; r < task.relations; ++r) {
    code += row[i - relation_offset(r)] * place;
    place *= task.values;
  }
  return task.values + code;
}

}  // namespace

void validate(const RelationTask& task) {
  if (task.relations < 1 || task.relations > kMaxRelations)
    throw_invalid("relations", "in [1, 4]", std::to_string(task.relations));
  if (task.values < 2 || task.values > 8)
    throw_invalid("values", "in [2, 8]", std::to_string(task.values));
  if (task.length <= first_target_position() || task.length > 512)
    throw_invalid("length",
                  "in [" + std::to_string(first_target_position() + 1) +
                      ", 512] (the first target sits at position " +
                      std::to_string(first_target_position()) + ")",
                  std::to_string(task.length));
}

Index relation_offset(Index r) { return 3 * r + 1; }

Index first_target_position() { return relation_offset(kMaxRelations - 1); }

Index relation_vocab_size(const RelationTask& task) {
  validate(task);
  return task.values + power(task.values, task.relations);
}

RelationBatch sample_relation_batch(const RelationTask& task, Index batch, std::mt19937_64& rng) {
  validate(task);
  if (batch < 1) throw_invalid("batch", ">= 1", std::to_string(batch));
  RelationBatch b{batch, task.length, {}, {}};
  const auto cells = static_cast<std::size_t>(batch * task.length);
  b.inputs.resize(cells);
  b.targets.assign(cells, -1);
  for (auto& x : b.inputs)
    x = static_cast<std::int64_t>(uniform_index(rng, static_cast<std::size_t>(task.values)));
  for (Index s = 0; s < batch; ++s) {
    const std::int64_t* row = b.inputs.data() + s * task.length;
    for (Index i = first_target_position(); i < task.length; ++i)
      b.targets[static_cast<std::size_t>(s * task.length + i)] = answer_at(task, row, i);
  }
  return b;
}

Index answer_digit(const RelationTask& task, std::int64_t answer, Index r) {
  return ((answer - task.values) / power(task.values, r)) % task.values;
}

RelationEvaluation evaluate_relations(const Transformer& model, const RelationTask& task,
                                      const RelationBatch& held_out, const Context& ctx) {
  const Index vocab = relation_vocab_size(task);
  if (model.config().vocab_size != vocab)
    throw_invalid("model", "a vocabulary of " + std::to_string(vocab) + " ids for this task",
                  std::to_string(model.config().vocab_size));
  if (held_out.length != task.length || held_out.batch < 1)
    throw_invalid("held_out", "sequences of length " + std::to_string(task.length),
                  std::to_string(held_out.batch) + " of length " + std::to_string(held_out.length));
  Tensor<std::int64_t> ids({held_out.batch, held_out.length});
  std::copy(held_out.inputs.begin(), held_out.inputs.end(), ids.data());
  const TransformerOutput out = model.forward(
      {.input_ids = ids.view()},
      {.output_hidden_states = false, .output_attentions = false, .output_query_key = false}, ctx);

  const Index k = task.relations, m = task.values, answers = vocab - m;
  RelationEvaluation e;
  e.relation_accuracy.assign(static_cast<std::size_t>(k), 0.0);
  e.relation_loss.assign(static_cast<std::size_t>(k), 0.0);
  std::vector<double> p(static_cast<std::size_t>(answers)), marginal(static_cast<std::size_t>(m));
  Index tuple_correct = 0;
  std::vector<Index> relation_correct(static_cast<std::size_t>(k), 0);
  for (Index cell = 0; cell < held_out.batch * held_out.length; ++cell) {
    const std::int64_t target = held_out.targets[static_cast<std::size_t>(cell)];
    if (target < 0) continue;
    // Softmax over the answer ids only (the value ids are never answers).
    const float* z = out.logits.data() + cell * vocab + m;
    const float top = *std::max_element(z, z + answers);
    double sum = 0;
    for (Index a = 0; a < answers; ++a) sum += p[static_cast<std::size_t>(a)] = std::exp(double(z[a]) - top);
    for (double& q : p) q /= sum;
    const Index truth = target - m;
    e.loss -= std::log(p[static_cast<std::size_t>(truth)]);
    tuple_correct += (std::max_element(p.begin(), p.end()) - p.begin()) == truth;
    for (Index r = 0; r < k; ++r) {
      std::fill(marginal.begin(), marginal.end(), 0.0);
      for (Index a = 0; a < answers; ++a)
        marginal[static_cast<std::size_t>(answer_digit(task, a + m, r))] += p[static_cast<std::size_t>(a)];
      const Index want = answer_digit(task, target, r);
      e.relation_loss[static_cast<std::size_t>(r)] -= std::log(marginal[static_cast<std::size_t>(want)]);
      relation_correct[static_cast<std::size_t>(r)] +=
          (std::max_element(marginal.begin(), marginal.end()) - marginal.begin()) == want;
    }
    ++e.predictions;
  }
  const auto n = static_cast<double>(e.predictions);
  e.loss /= n;
  e.tuple_accuracy = static_cast<double>(tuple_correct) / n;
  for (Index r = 0; r < k; ++r) {
    auto& acc = e.relation_accuracy[static_cast<std::size_t>(r)];
    auto& loss = e.relation_loss[static_cast<std::size_t>(r)];
    acc = static_cast<double>(relation_correct[static_cast<std::size_t>(r)]) / n;
    loss /= n;
    e.mean_relation_accuracy += acc / static_cast<double>(k);
    e.mean_relation_loss += loss / static_cast<double>(k);
  }
  return e;
}

RelationCeiling equal_weight_ceiling(const RelationTask& task) {
  validate(task);
  const Index k = task.relations, m = task.values, tuples = power(m, k);
  double factorial_k = 1;
  for (Index i = 2; i <= k; ++i) factorial_k *= static_cast<double>(i);
  RelationCeiling c;
  std::vector<Index> counts(static_cast<std::size_t>(m));
  for (Index t = 0; t < tuples; ++t) {
    std::fill(counts.begin(), counts.end(), 0);
    for (Index r = 0, rest = t; r < k; ++r, rest /= m) ++counts[static_cast<std::size_t>(rest % m)];
    double orderings_inverse = 1;  // Π c_v! / k!
    for (const Index count : counts)
      for (Index i = 2; i <= count; ++i) orderings_inverse *= static_cast<double>(i);
    c.tuple_accuracy += orderings_inverse / factorial_k;
    c.relation_accuracy +=
        static_cast<double>(*std::max_element(counts.begin(), counts.end())) / static_cast<double>(k);
  }
  c.relation_accuracy /= static_cast<double>(tuples);
  c.tuple_accuracy /= static_cast<double>(tuples);
  return c;
}

}  // namespace mha::train
