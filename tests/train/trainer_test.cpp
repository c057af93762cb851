// The trainer: the loss falls, a run is a pure function of its seed, and stopping at a checkpoint
// and resuming gives bit-identical parameters.
#include <gtest/gtest.h>

#include "mha/train/trainer.hpp"

namespace mha::train {
namespace {

TrainingConfig tiny(Index steps) {
  TrainingConfig c;
  c.model = {.d_model = 16, .num_heads = 2, .num_layers = 1, .d_ff = 32};
  c.optimizer = {.learning_rate = 3e-3, .warmup_steps = 5};
  c.steps = steps;
  c.batch_size = 16;
  c.seed = 4;
  c.eval_every = 0;
  c.eval_examples = 60;
  return c;
}

void expect_identical(const TensorStore& a, const TensorStore& b) {
  ASSERT_TRUE(a.layout() == b.layout());
  for (Index t = 0; t < a.size(); ++t)
    for (Index i = 0; i < a[t].numel(); ++i)
      ASSERT_EQ(a[t].data()[i], b[t].data()[i]) << a.layout().entry(t).name << " element " << i;
}

const Context kCtx{.kernel = KernelKind::cpu, .threads = 1};

TEST(Trainer, LossFallsOnTheAttachmentLanguage) {
  const lang::AttachmentGrammar grammar;
  TrainingConfig config = tiny(100);
  config.optimizer.learning_rate = 1e-2;
  Trainer trainer(config, grammar, kCtx);
  std::vector<double> losses;
  trainer.run([&](const StepReport& r) { losses.push_back(r.loss); });
  ASSERT_EQ(losses.size(), 100u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += losses[static_cast<std::size_t>(i)], last += losses[losses.size() - 1 - static_cast<std::size_t>(i)];
  EXPECT_LT(last, 0.75 * first) << "mean loss of the first 10 steps " << first / 10 << ", last 10 "
                                << last / 10;
}

TEST(Trainer, SameSeedSameParametersOtherSeedOthers) {
  const lang::AttachmentGrammar grammar;
  Trainer a(tiny(8), grammar, kCtx), b(tiny(8), grammar, kCtx);
  a.run();
  b.run();
  expect_identical(a.model().parameters(), b.model().parameters());
  TrainingConfig other = tiny(8);
  other.seed = 5;
  Trainer c(other, grammar, kCtx);
  c.run();
  EXPECT_NE(c.model().parameters().at("lm_head.bias")(0), a.model().parameters().at("lm_head.bias")(0));
}

TEST(Trainer, ResumingFromACheckpointEqualsNeverStopping) {
  const lang::AttachmentGrammar grammar;
  Trainer straight(tiny(12), grammar, kCtx);
  straight.run();

  Trainer first_half(tiny(12), grammar, kCtx);
  for (int i = 0; i < 5; ++i) first_half.train_step();
  const Checkpoint saved =
      load_checkpoint(SafetensorsFile::from_bytes(checkpoint_bytes(first_half.checkpoint(true))));
  EXPECT_EQ(saved.step, 5);
  Trainer resumed = Trainer::resume(saved, grammar, kCtx);
  resumed.run();
  EXPECT_EQ(resumed.step(), 12);
  expect_identical(resumed.model().parameters(), straight.model().parameters());
}

TEST(Trainer, ModelOnlyCheckpointCannotResume) {
  const lang::AttachmentGrammar grammar;
  const Trainer t(tiny(3), grammar, kCtx);
  EXPECT_THROW((void)Trainer::resume(t.checkpoint(false), grammar, kCtx), Error);
}

TEST(Trainer, EvaluationCountsTwoRelationExamples) {
  const lang::AttachmentGrammar grammar;
  const Trainer t(tiny(3), grammar, kCtx);
  const Evaluation e = t.evaluate_held_out();
  EXPECT_EQ(e.examples, 60);
  EXPECT_EQ(e.two_relation_examples, 20);
  EXPECT_GE(e.valid, e.accuracy);
  EXPECT_GT(e.loss, 0);
}

}  // namespace
}  // namespace mha::train
