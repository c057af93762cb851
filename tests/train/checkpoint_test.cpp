// Checkpoints: bit-exact round trip of model and optimizer, and named errors for what is missing.
#include <gtest/gtest.h>

#include "mha/train/checkpoint.hpp"

namespace mha::train {
namespace {

Checkpoint sample_checkpoint(bool with_optimizer) {
  Checkpoint c;
  c.config = {.vocab_size = 4, .d_model = 4, .num_heads = 2, .num_layers = 1, .d_ff = 8,
              .max_length = 6, .norm = NormPlacement::post, .activation = Activation::relu};
  c.parameters = init_parameters(c.config, 9);
  c.vocabulary = {"[PAD]", "[MASK]", "bank", "river"};
  c.step = 42;
  c.training_json = R"({"seed":1})";
  if (with_optimizer) {
    AdamW opt({}, c.parameters);
    const TensorStore grads = c.parameters;  // any gradient will do
    TensorStore params = c.parameters;
    opt.step(params, grads);
    c.optimizer = OptimizerState{opt.steps_done(), opt.first_moments(), opt.second_moments()};
  }
  return c;
}

void expect_same(const TensorStore& a, const TensorStore& b) {
  ASSERT_TRUE(a.layout() == b.layout());
  for (Index i = 0; i < a.size(); ++i)
    for (Index k = 0; k < a[i].numel(); ++k) ASSERT_EQ(a[i].data()[k], b[i].data()[k]) << a.layout().entry(i).name;
}

TEST(Checkpoint, RoundTripsModelOptimizerAndMetadata) {
  const Checkpoint saved = sample_checkpoint(true);
  const Checkpoint loaded = load_checkpoint(SafetensorsFile::from_bytes(checkpoint_bytes(saved)));
  EXPECT_EQ(config_to_json(loaded.config), config_to_json(saved.config));
  EXPECT_EQ(loaded.vocabulary, saved.vocabulary);
  EXPECT_EQ(loaded.step, 42);
  EXPECT_EQ(loaded.training_json, saved.training_json);
  expect_same(loaded.parameters, saved.parameters);
  ASSERT_TRUE(loaded.optimizer.has_value());
  EXPECT_EQ(loaded.optimizer->steps_done, 1);
  expect_same(loaded.optimizer->first_moments, saved.optimizer->first_moments);
  expect_same(loaded.optimizer->second_moments, saved.optimizer->second_moments);
}

TEST(Checkpoint, ModelOnlyFileHasNoOptimizer) {
  const Checkpoint loaded =
      load_checkpoint(SafetensorsFile::from_bytes(checkpoint_bytes(sample_checkpoint(false))));
  EXPECT_FALSE(loaded.optimizer.has_value());
}

TEST(Checkpoint, AFileWithoutMhaMetadataIsNamed) {
  SafetensorsWriter w;
  const Tensor<> t({2});
  w.add("embedding.weight", t.view());
  try {
    (void)load_checkpoint(SafetensorsFile::from_bytes(w.bytes()));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mha.config"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, VocabularyOfTheWrongSizeIsRefused) {
  Checkpoint c = sample_checkpoint(false);
  c.vocabulary.pop_back();
  EXPECT_THROW((void)checkpoint_bytes(c), Error);
}

}  // namespace
}  // namespace mha::train
