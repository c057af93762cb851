// The causal-lm objective: the next-token loss falls, a run is a pure function of its seed,
// resuming equals never stopping, the checkpoint says causal and has <eos>, and the masked
// objective's settings JSON is what it was before the objective existed.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "mha/core/error.hpp"
#include "mha/io/safetensors.hpp"
#include "mha/train/trainer.hpp"

namespace mha::train {
namespace {

TrainingConfig tiny_lm(Index steps) {
  TrainingConfig c;
  c.objective = Objective::causal_lm;
  c.model = {.d_model = 16, .num_heads = 2, .num_layers = 1, .d_ff = 32, .max_length = 24};
  c.optimizer = {.learning_rate = 1e-2, .warmup_steps = 5};
  c.steps = steps;
  c.batch_size = 8;
  c.seed = 4;
  c.eval_every = 0;
  c.eval_examples = 40;
  return c;
}

const Context kCtx{.kernel = KernelKind::cpu, .threads = 1};

TEST(CausalTrainer, NextTokenLossFallsAndTheEvaluationIsConsistent) {
  const lang::AttachmentGrammar grammar;
  Trainer trainer(tiny_lm(60), grammar, kCtx);
  ASSERT_TRUE(trainer.model().config().causal);
  EXPECT_EQ(trainer.model().config().vocab_size, grammar.vocabulary().size() + 1);
  const LmEvaluation before = trainer.evaluate_held_out_lm();
  std::vector<StepReport> reports;
  trainer.run([&](const StepReport& r) { reports.push_back(r); });
  ASSERT_EQ(reports.size(), 60u);
  ASSERT_TRUE(reports.back().lm_evaluation.has_value()) << "the last step evaluates";
  EXPECT_FALSE(reports.back().evaluation.has_value());
  const LmEvaluation& after = *reports.back().lm_evaluation;
  EXPECT_GT(after.tokens, 40 * 5) << "every position of 40 sentences and their <eos>";
  EXPECT_LT(after.loss, 0.75 * before.loss) << "before " << before.loss << ", after " << after.loss;
  EXPECT_NEAR(after.perplexity, std::exp(after.loss), 1e-9 * after.perplexity);
  EXPECT_GE(after.grammatical, after.accuracy) << "the right token is always grammatical";
  EXPECT_GT(after.grammatical, before.grammatical);
  EXPECT_LE(after.allowed_mass, 1.0 + 1e-9);
}

TEST(CausalTrainer, SameSeedSameParametersAndResumeEqualsNeverStopping) {
  const lang::AttachmentGrammar grammar;
  Trainer straight(tiny_lm(8), grammar, kCtx);
  std::optional<Checkpoint> half;  // what --checkpoint-every 4 would have saved
  straight.run([&](const StepReport& r) {
    if (r.step == 4) half = straight.checkpoint(true);
  });
  ASSERT_TRUE(half.has_value());
  EXPECT_TRUE(half->config.causal);
  EXPECT_EQ(half->vocabulary.back(), "<eos>");
  Trainer again(tiny_lm(8), grammar, kCtx);
  again.run();
  EXPECT_EQ(checkpoint_bytes(again.checkpoint(false)), checkpoint_bytes(straight.checkpoint(false)));
  Trainer resumed = Trainer::resume(*half, grammar, kCtx);
  EXPECT_EQ(resumed.config().objective, Objective::causal_lm);
  resumed.run();
  EXPECT_EQ(checkpoint_bytes(resumed.checkpoint(false)), checkpoint_bytes(straight.checkpoint(false)));
}

TEST(CausalTrainer, TheConfigJsonSaysCausalOnlyForTheLanguageModel) {
  const lang::AttachmentGrammar grammar;
  TrainingConfig masked = tiny_lm(1);
  masked.objective = Objective::masked;
  masked.model.max_length = 64;
  const Checkpoint m = Trainer(masked, grammar, kCtx).checkpoint(false);
  EXPECT_EQ(config_to_json(m.config).find("causal"), std::string::npos);
  EXPECT_EQ(m.training_json.find("objective"), std::string::npos);
  EXPECT_FALSE(config_from_json(config_to_json(m.config)).causal);
  const Checkpoint lm = Trainer(tiny_lm(1), grammar, kCtx).checkpoint(false);
  EXPECT_TRUE(config_from_json(config_to_json(lm.config)).causal);
  EXPECT_EQ(training_from_json(lm.training_json).objective, Objective::causal_lm);
  // A masked run with a causal model, and rows too short for a sentence, are refused.
  masked.model.causal = true;
  EXPECT_THROW((void)Trainer(masked, grammar, kCtx), Error);
  TrainingConfig short_rows = tiny_lm(1);
  short_rows.model.max_length = 8;
  EXPECT_THROW((void)Trainer(short_rows, grammar, kCtx), Error);
}

TEST(CausalTrainer, TheCommittedEncodersMetadataReadsAndWritesBackByteForByte) {
  // Written before `causal` and `objective` existed: they load as masked encoders, and writing
  // their settings again gives the very strings stored, so a masked run's bytes are unchanged.
  for (const char* name : {"demo-4-heads", "demo-1-head"}) {
    const SafetensorsFile file =
        SafetensorsFile::open(std::string(MHA_FIXTURES_DIR) + "/../../models/" + name + ".safetensors");
    const Checkpoint c = load_checkpoint(file);
    EXPECT_FALSE(c.config.causal) << name;
    EXPECT_EQ(config_to_json(c.config), file.metadata().at("mha.config")) << name;
    const TrainingConfig t = training_from_json(c.training_json);
    EXPECT_EQ(t.objective, Objective::masked) << name;
    EXPECT_EQ(training_to_json(t), c.training_json) << name;
  }
}

}  // namespace
}  // namespace mha::train
