// `mha train --language two-objects`: the checkpoint has the variant's vocabulary (with "and")
// and records the language, `mha heads` reads a two-object sentence with it, and a bad value
// names --language.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mha/train/trainer.hpp"
#include "run_cli.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

TEST(CliTrainLanguage, TwoObjectsCheckpointReadsWithMhaHeads) {
  const fs::path out = scratch_dir() / "two.safetensors";
  const CliResult trained = run_mha(
      "train --language two-objects --steps 3 --d-model 16 --heads 2 --layers 1 --batch 8 "
      "--eval-every 0 --threads 1 --quiet --out " + out.string());
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("language two-objects"), std::string::npos) << trained.out;
  const train::Checkpoint c = train::load_checkpoint(out);
  ASSERT_EQ(c.vocabulary.size(), 70U);
  EXPECT_EQ(c.vocabulary.back(), "and");
  EXPECT_EQ(train::training_from_json(c.training_json).language, lang::LanguageVariant::two_objects);

  const CliResult heads = run_mha("heads --model " + out.string() +
                                  " --text \"the man saw the dog and the astronaut with a telescope\"");
  ASSERT_EQ(heads.exit_code, 0) << heads.err;
  EXPECT_NE(heads.out.find("astronaut"), std::string::npos) << heads.out;

  // Resuming keeps the checkpoint's language.
  const fs::path more = out.parent_path() / "more.safetensors";
  const CliResult resumed = run_mha("train --resume " + out.string() + " --steps 4 --threads 1 --quiet --out " +
                                    more.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(train::load_checkpoint(more).vocabulary.size(), 70U);
}

TEST(CliTrainLanguage, BadLanguageNamesTheFlag) {
  EXPECT_TRUE(fails_naming(run_mha("train --language three-objects --steps 1 --quiet --out " +
                                   (scratch_dir() / "x.safetensors").string()),
                           "--language"));
}

}  // namespace
}  // namespace mha::testing
