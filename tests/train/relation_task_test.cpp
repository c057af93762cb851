// The k-relation task: targets are the tuples the header promises, the equal-weight ceiling is
// exact on cases worked by hand, a perfect predictor scores 1, and training learns k = 1.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "mha/train/relation_task.hpp"
#include "mha/train/relation_training.hpp"
#include "testing/expect_error.hpp"

namespace mha::train {
namespace {

using mha::testing::throws_error;

const Context kCtx{.kernel = KernelKind::cpu, .threads = 1};

TEST(RelationTask, TargetsAreTheTuplesAtTheOffsets) {
  const RelationTask task{.relations = 3, .values = 5, .length = 16};
  std::mt19937_64 rng(7);
  const RelationBatch b = sample_relation_batch(task, 4, rng);
  ASSERT_EQ(b.inputs.size(), 64u);
  for (Index s = 0; s < 4; ++s)
    for (Index i = 0; i < 16; ++i) {
      const std::int64_t y = b.targets[static_cast<std::size_t>(s * 16 + i)];
      if (i < first_target_position()) {
        EXPECT_EQ(y, -1);
        continue;
      }
      ASSERT_GE(y, 5);
      ASSERT_LT(y, relation_vocab_size(task));
      for (Index r = 0; r < 3; ++r)
        EXPECT_EQ(answer_digit(task, y, r), b.inputs[static_cast<std::size_t>(s * 16 + i - relation_offset(r))]);
    }
  EXPECT_EQ(relation_offset(0), 1);
  EXPECT_EQ(relation_offset(3), 10);
  EXPECT_EQ(relation_vocab_size(task), 5 + 125);
}

TEST(RelationTask, SamplingIsAPureFunctionOfTheEngine) {
  const RelationTask task;
  std::mt19937_64 a(3), b(3);
  EXPECT_EQ(sample_relation_batch(task, 3, a).inputs, sample_relation_batch(task, 3, b).inputs);
}

TEST(RelationTask, EqualWeightCeilingMatchesHandCounts) {
  // k = 1: the multiset is the answer.
  EXPECT_DOUBLE_EQ(equal_weight_ceiling({.relations = 1, .values = 4, .length = 20}).relation_accuracy, 1.0);
  // k = 2, m = 4: equal pair (1/4) is known; a different pair (3/4) is right half the time.
  const RelationCeiling two = equal_weight_ceiling({.relations = 2, .values = 4, .length = 20});
  EXPECT_DOUBLE_EQ(two.relation_accuracy, 0.25 + 0.75 * 0.5);
  EXPECT_DOUBLE_EQ(two.tuple_accuracy, 0.25 + 0.75 * 0.5);
  // k = 3, m = 2: all equal (2/8): 1; otherwise counts {2, 1}: relation 2/3, tuple 1/3.
  const RelationCeiling three = equal_weight_ceiling({.relations = 3, .values = 2, .length = 20});
  EXPECT_NEAR(three.relation_accuracy, 0.25 + 0.75 * (2.0 / 3.0), 1e-15);
  EXPECT_NEAR(three.tuple_accuracy, 0.25 + 0.75 * (1.0 / 3.0), 1e-15);
}

// The design check: given the answer tokens with their roles, a linear readout gets every tuple;
// given only their equal-weight mix, it is held to the ceiling.
TEST(RelationTask, OracleReadoutKeepsRolesOrHitsTheCeiling) {
  for (const Index k : {1, 2, 3}) {
    const RelationTask task{.relations = k, .values = 4, .length = 20};
    const OracleResult kept = oracle_readout(task, OracleFeatures::roles_kept);
    EXPECT_NEAR(kept.relation_accuracy, 1.0, 1e-12) << k;
    EXPECT_EQ(kept.tuple_accuracy, 1.0) << k;
    const OracleResult mixed = oracle_readout(task, OracleFeatures::equal_mix);
    const RelationCeiling ceiling = equal_weight_ceiling(task);
    EXPECT_LE(mixed.relation_accuracy, ceiling.relation_accuracy + 1e-12) << k;
    EXPECT_GT(mixed.relation_accuracy, ceiling.relation_accuracy - 0.1) << k;
  }
}

TEST(RelationTask, BadSettingsNameTheField) {
  EXPECT_TRUE(throws_error([] { validate(RelationTask{.relations = 5}); }, {"relations", "[1, 4]", "5"}));
  EXPECT_TRUE(throws_error([] { validate(RelationTask{.values = 1}); }, {"values", "1"}));
  EXPECT_TRUE(throws_error([] { validate(RelationTask{.length = 10}); }, {"length", "10"}));
  std::mt19937_64 rng(0);
  EXPECT_TRUE(throws_error([&] { sample_relation_batch({}, 0, rng); }, {"batch", ">= 1"}));
  RelationTrainingConfig c;
  c.steps = 0;
  EXPECT_TRUE(throws_error([&] { completed(c); }, {"steps"}));
}

TEST(RelationTask, EvaluationRefusesAModelOfAnotherTask) {
  RelationTrainingConfig c = completed({});
  const Transformer model(c.model, init_parameters(c.model, 0));
  std::mt19937_64 rng(0);
  const RelationTask other{.relations = 3, .values = 4, .length = 20};
  EXPECT_TRUE(throws_error(
      [&] { evaluate_relations(model, other, sample_relation_batch(other, 2, rng), kCtx); },
      {"model", "vocabulary"}));
}

// k = 1 is a copy of the previous token: a small model learns it, so the scoring, the loop and
// the curve work together; an untrained model sits near chance.
TEST(RelationTraining, LearnsOneRelationAndRecordsTheCurve) {
  RelationTrainingConfig c;
  c.task = {.relations = 1, .values = 4, .length = 12};
  c.model.d_model = 16;
  c.model.num_heads = 2;
  c.model.d_ff = 32;
  c.optimizer.learning_rate = 1e-2;
  c.optimizer.warmup_steps = 10;
  c.steps = 250;
  c.batch_size = 16;
  c.eval_every = 50;
  c.eval_sequences = 64;
  const RelationRun run = train_relation_model(c, kCtx);
  ASSERT_EQ(run.curve.size(), 6u);  // steps 0, 50, …, 250
  EXPECT_EQ(run.curve.front().step, 0);
  EXPECT_EQ(run.curve.back().step, 250);
  EXPECT_LT(run.curve.back().loss, 0.25 * run.curve.front().loss);
  EXPECT_GT(run.evaluation.mean_relation_accuracy, 0.95);
  EXPECT_EQ(run.evaluation.predictions, 64 * (12 - first_target_position()));
}

TEST(RelationTraining, ARunIsAPureFunctionOfItsConfig) {
  RelationTrainingConfig c;
  c.task = {.relations = 2, .values = 3, .length = 12};
  c.model.d_model = 8;
  c.model.num_heads = 2;
  c.model.d_ff = 16;
  c.steps = 5;
  c.batch_size = 4;
  c.eval_sequences = 8;
  const RelationRun a = train_relation_model(c, kCtx), b = train_relation_model(c, kCtx);
  EXPECT_EQ(a.evaluation.loss, b.evaluation.loss);
  EXPECT_EQ(a.curve.back().loss, b.curve.back().loss);
  c.seed = 1;
  EXPECT_NE(train_relation_model(c, kCtx).evaluation.loss, a.evaluation.loss);
}

}  // namespace
}  // namespace mha::train
