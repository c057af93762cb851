// The k-relation task: the number of relations one attention layer must gather at once is a dial.
//
//   input    x_0 … x_{L−1}, each uniform over m value tokens (ids 0 … m−1)
//   target   at every position i ≥ t₀ = 10: the ordered k-tuple (x_{i−d₁}, …, x_{i−d_k}),
//            one class among m^k (ids m + Σ_r x_{i−d_r}·m^r); positions before t₀ predict nothing
//   offsets  d_r = 3r + 1: 1, 4, 7, 10 — k different criteria ("the token d_r back"), and every
//            other position holds a token of the same kind (a distractor)
//
// Why one head should struggle as k grows. A head's output at i is Σ_j p_ij·W_V(E x_j + PE_j):
// a weighted mean of values in which each token enters only through its weight, because the value
// is a sum of a token part and a position part (a linear map cannot tie a token to its position).
// With equal weights on the k answers the head passes on only the multiset {x_{i−d_r}}, not which
// token came from which relation; the order survives only in unequal weights (e.g. ⅔ and ⅓),
// which the readout must then tell apart, harder for every added relation. h ≥ k heads can give
// each relation its own softmax and its own slice of W_O, so the roles stay apart.
// equal_weight_ceiling() is what a reader of the multiset alone can reach.
//
// The first target position t₀ is the same for every k, so every setting predicts the same
// L − t₀ positions of each sequence.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/models/transformer.hpp"

namespace mha::train {

struct RelationTask {
  Index relations = 2;  // k, in [1, 4]
  Index values = 4;     // m, in [2, 8]
  Index length = 20;    // L, in [11, 512]: t₀ = 10 and at least one target
};

// Throws mha::Error naming "relations", "values" or "length" outside their ranges.
void validate(const RelationTask& task);
// d_r for relation r (0-based): 3r + 1.
Index relation_offset(Index r);
// t₀: the first position with a target, d of the last relation of the family (10).
Index first_target_position();
// m + m^k: the value tokens, then one id per answer tuple (never an input).
Index relation_vocab_size(const RelationTask& task);

// Layout: row-major [batch, length]; targets −1 before t₀ (ignored by the loss).
struct RelationBatch {
  Index batch = 0, length = 0;
  std::vector<std::int64_t> inputs, targets;
};
// `batch` fresh sequences; a pure function of the engine state (rng() only, mapped by our own
// arithmetic). Throws mha::Error naming "batch" below 1.
RelationBatch sample_relation_batch(const RelationTask& task, Index batch, std::mt19937_64& rng);
// The digit of relation r in answer id `answer` (m + Σ_r digit_r·m^r).
Index answer_digit(const RelationTask& task, std::int64_t answer, Index r);

struct RelationEvaluation {
  Index predictions = 0;
  double loss = 0;               // mean cross-entropy of the tuple (nats), over all L·… targets
  double tuple_accuracy = 0;     // argmax tuple = the answer
  // Per relation r, from the model's marginal p(digit_r = v) = Σ over tuples with digit_r = v:
  std::vector<double> relation_accuracy;  // argmax_v of the marginal = x_{i−d_r}
  std::vector<double> relation_loss;      // −ln p(digit_r = x_{i−d_r})
  double mean_relation_accuracy = 0;      // the mean over the k relations
  double mean_relation_loss = 0;
};
// Scores a model of this task (vocab_size = relation_vocab_size(task)) on a fixed batch; the
// answer's probabilities are renormalised over the m^k answer ids. Throws mha::Error naming
// "model" for another vocabulary size and "held_out" for a batch of another length.
RelationEvaluation evaluate_relations(const Transformer& model, const RelationTask& task,
                                      const RelationBatch& held_out, const Context& ctx = {});

// The best mean relation accuracy (and tuple accuracy) of a predictor that sees only the multiset
// of the k answers — what one head weighing the answer positions equally passes on: per relation,
// guess the most frequent value, E[max count / k]; per tuple, guess one ordering of the multiset,
// E[Π c_v! / k!]. Exact, by enumerating the m^k tuples.
struct RelationCeiling {
  double relation_accuracy = 0, tuple_accuracy = 0;
};
RelationCeiling equal_weight_ceiling(const RelationTask& task);

}  // namespace mha::train

namespace mha::train {

// The design check: a model that is *given* the answer positions. A softmax regression reads
// features of the k answer tokens and is trained to the answer tuple by full-batch gradient
// descent over all m^k tuples (the task draws them uniformly, so this is the exact expected loss):
//   roles kept   [onehot(x_{i−d₁}) | … | onehot(x_{i−d_k})]   what h ≥ k heads can pass on
//   equal mix    (1/k) Σ_r onehot(x_{i−d_r})                   what one equal-weight head passes on
// The first reaches relation accuracy 1 (the tuple is a linear function of the kept roles); the
// second is held to equal_weight_ceiling(). Deterministic (zero start, fixed steps).
enum class OracleFeatures { roles_kept, equal_mix };
struct OracleResult {
  double relation_accuracy = 0, tuple_accuracy = 0;
};
OracleResult oracle_readout(const RelationTask& task, OracleFeatures features, Index steps = 300);

}  // namespace mha::train
