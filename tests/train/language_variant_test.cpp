// TrainingConfig::language: the training JSON names a non-standard language (and leaves the
// standard one out, so old checkpoints keep their bytes), and a Trainer trains and resumes on the
// two_objects language with its 70-word vocabulary.
#include <gtest/gtest.h>

#include <string>

#include "mha/core/error.hpp"
#include "mha/train/trainer.hpp"

namespace mha::train {
namespace {

TrainingConfig tiny(Index steps) {
  TrainingConfig c;
  c.language = lang::LanguageVariant::two_objects;
  c.model = {.vocab_size = 70, .d_model = 16, .num_heads = 2, .num_layers = 1, .d_ff = 32};
  c.optimizer = {.learning_rate = 3e-3, .warmup_steps = 1};
  c.steps = steps;
  c.batch_size = 8;
  c.eval_every = 0;
  c.eval_examples = 30;
  return c;
}

const Context kCtx{.kernel = KernelKind::cpu, .threads = 1};

TEST(TrainingLanguage, JsonNamesOnlyAVariant) {
  TrainingConfig standard = tiny(3);
  standard.language = lang::LanguageVariant::standard;
  EXPECT_EQ(training_to_json(standard).find("language"), std::string::npos);
  EXPECT_EQ(training_from_json(training_to_json(standard)).language, lang::LanguageVariant::standard);
  const TrainingConfig two = tiny(3);
  const std::string json = training_to_json(two);
  EXPECT_NE(json.find("\"language\":\"two-objects\""), std::string::npos) << json;
  EXPECT_EQ(training_from_json(json).language, lang::LanguageVariant::two_objects);
  EXPECT_EQ(training_to_json(training_from_json(json)), json);
  std::string bad = json;
  bad.replace(bad.find("two-objects"), 11, "three-words");
  EXPECT_THROW(training_from_json(bad), Error);
}

TEST(TrainingLanguage, TrainerNeedsTheConfigsGrammar) {
  const lang::AttachmentGrammar standard;
  try {
    Trainer(tiny(1), standard, kCtx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("language"), std::string::npos) << e.what();
  }
}

TEST(TrainingLanguage, TwoObjectsTrainsAndResumes) {
  const lang::AttachmentGrammar grammar(lang::LanguageVariant::two_objects);
  Trainer trainer(tiny(3), grammar, kCtx);
  EXPECT_EQ(trainer.config().model.vocab_size, 70);
  EXPECT_GE(trainer.config().model.max_length, 11);
  trainer.train_step();
  const Checkpoint c = trainer.checkpoint(true);
  EXPECT_EQ(c.vocabulary.size(), 70U);
  EXPECT_EQ(training_from_json(c.training_json).language, lang::LanguageVariant::two_objects);
  Trainer resumed = Trainer::resume(c, grammar, kCtx);
  resumed.run();
  EXPECT_EQ(resumed.step(), 3);
  const Evaluation e = resumed.evaluate_held_out();
  EXPECT_EQ(e.two_relation_examples, 10);
  // The standard grammar cannot resume it: its vocabulary differs.
  EXPECT_THROW(Trainer::resume(c, lang::AttachmentGrammar(), kCtx), Error);
}

TEST(TrainingLanguage, TwoObjectsCausalLanguageModel) {
  const lang::AttachmentGrammar grammar(lang::LanguageVariant::two_objects);
  TrainingConfig config = tiny(1);
  config.objective = Objective::causal_lm;
  config.model.max_length = 24;
  config.batch_size = 2;
  config.eval_examples = 4;
  Trainer trainer(config, grammar, kCtx);
  EXPECT_EQ(trainer.config().model.vocab_size, 71);  // + <eos>
  trainer.run();
  const LmEvaluation e = trainer.evaluate_held_out_lm();
  EXPECT_GE(e.grammatical, 0.0);
  EXPECT_LE(e.grammatical, 1.0);
}

}  // namespace
}  // namespace mha::train
