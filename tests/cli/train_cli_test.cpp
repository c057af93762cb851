// `mha train`: a tiny run saves a loadable checkpoint, the same command writes the same bytes,
// resuming a checkpoint equals never stopping, and bad flags give one line naming the flag.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mha/kernels/attention.hpp"
#include "mha/train/trainer.hpp"
#include "run_cli.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

const std::string kTiny =
    "train --steps 6 --d-model 16 --heads 2 --layers 1 --batch 8 --eval-every 3 --threads 1 "
    "--quiet";

CliResult train_to(const fs::path& out, const std::string& extra = "") {
  return run_mha(kTiny + " --out " + out.string() + (extra.empty() ? "" : " " + extra));
}

TEST(CliTrain, SavesAResumableCheckpointAndPrintsEvaluations) {
  const fs::path dir = scratch_dir(), out = dir / "model.safetensors";
  const CliResult r = train_to(out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // --eval-every 3 over 6 steps: evaluations after step 3 and step 6 (the last step), nothing else.
  EXPECT_EQ(count_occurrences(r.out, "eval @ step "), 2) << r.out;
  EXPECT_NE(r.out.find("eval @ step 3: loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eval @ step 6: loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PP nouns (two relations, n="), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << "--quiet and not a terminal, yet stderr has:\n" << r.err;

  const train::Checkpoint c = train::load_checkpoint(out);
  EXPECT_EQ(c.step, 6);
  EXPECT_EQ(c.config.d_model, 16);
  EXPECT_EQ(c.config.num_heads, 2);
  EXPECT_EQ(c.config.num_layers, 1);
  ASSERT_TRUE(c.optimizer.has_value());
  EXPECT_EQ(c.optimizer->steps_done, 6);
}

TEST(CliTrain, ModelOnlyLeavesOutTheOptimizer) {
  const fs::path dir = scratch_dir(), out = dir / "model.safetensors";
  const CliResult r = train_to(out, "--model-only");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const train::Checkpoint c = train::load_checkpoint(out);
  EXPECT_EQ(c.step, 6);
  EXPECT_FALSE(c.optimizer.has_value());
  // And a model-only file cannot be resumed.
  EXPECT_TRUE(fails_naming(run_mha("train --resume " + out.string() + " --steps 8 --quiet --out " +
                                   (dir / "b.safetensors").string()),
                           "checkpoint"));
}

TEST(CliTrain, TheSameCommandWritesTheSameBytes) {
  const fs::path dir = scratch_dir(), a = dir / "a.safetensors", b = dir / "b.safetensors";
  ASSERT_EQ(train_to(a).exit_code, 0);
  ASSERT_EQ(train_to(b).exit_code, 0);
  const std::string bytes_a = slurp(a), bytes_b = slurp(b);
  ASSERT_FALSE(bytes_a.empty());
  EXPECT_TRUE(bytes_a == bytes_b) << "two runs of the same command wrote different files";
}

// The learning-rate schedule is planned for the run's total (warm-up min(--warmup, --steps), then
// linear decay to 0 at --steps), so a run *planned* for 6 steps and stopped at 3 is what resuming
// continues. `mha train --steps 3` plans a 3-step schedule instead; its step-3 state is not the
// step-3 state of a 6-step run. The stopped run is therefore made in-process, from the very
// settings the straight run saved in its metadata.
TEST(CliTrain, ResumingAStoppedRunEqualsNeverStopping) {
  const fs::path dir = scratch_dir(), straight = dir / "straight.safetensors",
                 stopped = dir / "stopped.safetensors", resumed = dir / "resumed.safetensors";
  ASSERT_EQ(train_to(straight).exit_code, 0);

  const train::Checkpoint reference = train::load_checkpoint(straight);
  const train::TrainingConfig config = train::training_from_json(reference.training_json);
  ASSERT_EQ(config.steps, 6);
  const Context ctx{
      // what `mha train --threads 1` uses with its default --kernel
      .kernel = KernelKind::cpu,
      .threads = 1};
  const lang::AttachmentGrammar grammar;
  train::Trainer first_half(config, grammar, ctx);
  for (int i = 0; i < 3; ++i) first_half.train_step();
  train::save_checkpoint(stopped, first_half.checkpoint(true));

  const CliResult r = run_mha("train --resume " + stopped.string() +
                              " --steps 6 --threads 1 --quiet --out " + resumed.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("resumed at step 3"), std::string::npos) << r.out;
  EXPECT_TRUE(slurp(resumed) == slurp(straight))
      << "resuming at step 3 did not reproduce the straight 6-step file byte for byte";
}

TEST(CliTrain, ResumingAShortRunExtendsIt) {
  const fs::path dir = scratch_dir(), a = dir / "a.safetensors", b = dir / "b.safetensors";
  ASSERT_EQ(run_mha("train --steps 3 --d-model 16 --heads 2 --layers 1 --batch 8 --threads 1 "
                    "--quiet --out " +
                    a.string())
                .exit_code,
            0);
  const CliResult r = run_mha("train --resume " + a.string() +
                              " --steps 6 --threads 1 --quiet --out " + b.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const train::Checkpoint c = train::load_checkpoint(b);
  EXPECT_EQ(c.step, 6);
  ASSERT_TRUE(c.optimizer.has_value());
  EXPECT_EQ(c.optimizer->steps_done, 6);
  EXPECT_EQ(train::training_from_json(c.training_json).steps, 6);
}

// --d-ff 0 trains an attention-only model (no linear1/linear2/norm2); without the flag d_ff is
// 4·d_model, as before.
TEST(CliTrain, DFfZeroTrainsAnAttentionOnlyModel) {
  const fs::path dir = scratch_dir(), plain = dir / "plain.safetensors", bare = dir / "bare.safetensors";
  ASSERT_EQ(train_to(plain).exit_code, 0);
  EXPECT_EQ(train::load_checkpoint(plain).config.d_ff, 64);
  const CliResult r = train_to(bare, "--d-ff 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const train::Checkpoint c = train::load_checkpoint(bare);
  EXPECT_EQ(c.config.d_ff, 0);
  EXPECT_FALSE(c.parameters.layout().find("layers.0.linear1.weight"));
  EXPECT_FALSE(c.parameters.layout().find("layers.0.norm2.weight"));
  EXPECT_EQ(c.step, 6);
}

TEST(CliTrain, BadFlagsGiveOneLineNamingTheFlag) {
  const fs::path dir = scratch_dir(), out = dir / "never.safetensors";
  const std::string base =
      "train --steps 2 --layers 1 --batch 8 --threads 1 --quiet --out " + out.string();
  EXPECT_TRUE(fails_naming(run_mha(base + " --heads 3 --d-model 16"), "--heads"));
  EXPECT_TRUE(fails_naming(run_mha(base + " --d-model 16 --heads 2 --norm sideways"), "--norm"));
  EXPECT_TRUE(fails_naming(run_mha(base + " --resume /nonexistent"), "/nonexistent"));
  EXPECT_TRUE(fails_naming(run_mha(base + " --d-model 16 --heads 2 --d-ff -3"), "--d-ff"));
  EXPECT_FALSE(fs::exists(out)) << "a failed run wrote " << out;
}

}  // namespace
}  // namespace mha::testing
