// Held-out scores of a causal language model on next-token batches
// (mha/train/causal_batches.hpp), every target position of the batch counted once.
//
//   loss        = mean over positions of −log p(target)          (nats per token)
//   perplexity  = exp(loss)
//   accuracy    = fraction with argmax p = target
//   grammatical = fraction with argmax p ∈ allowed(stream, t)     (mha/train/next_token_grammar.hpp)
//   allowed_mass = mean of Σ_{w ∈ allowed} p(w)
#pragma once

#include "mha/core/context.hpp"
#include "mha/models/transformer.hpp"
#include "mha/train/causal_batches.hpp"
#include "mha/train/next_token_grammar.hpp"

namespace mha::train {

struct LmEvaluation {
  Index tokens = 0;  // predicted positions
  double loss = 0, perplexity = 0, accuracy = 0, grammatical = 0, allowed_mass = 0;
};

// Throws mha::Error naming "model" when it is not causal (an encoder sees the token it predicts).
LmEvaluation evaluate_lm(const Transformer& model, const CausalBatch& batch,
                         const NextTokenGrammar& grammar, const Context& ctx = {});

}  // namespace mha::train
