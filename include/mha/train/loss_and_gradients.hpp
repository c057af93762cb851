// The training objective of a Transformer: mean cross-entropy of the predicted positions
// (mha/train/cross_entropy.hpp) and the gradient of every parameter, in one forward with a tape
// and one backward.
#pragma once

#include <cstdint>

#include "mha/core/context.hpp"
#include "mha/core/tensor_store.hpp"
#include "mha/models/transformer.hpp"

namespace mha::train {

// One batch: the encoder's input and the targets [B, L] (−1 = not predicted).
struct Batch {
  EncoderInput input;
  TensorView<const std::int64_t> targets;
};

struct LossAndGradients {
  double loss = 0;
  Index predicted = 0, correct = 0;
  TensorStore gradients;  // the parameters' layout
};

// attention_dropout (rate 0 = none) is seeded per call. Throws mha::Error naming `targets` when
// its shape differs from the ids'.
LossAndGradients loss_and_gradients(const Transformer& model, const Batch& batch,
                                    const AttentionDropout& dropout = {}, const Context& ctx = {});

}  // namespace mha::train
