// Loss and gradients: forward with a tape → cross-entropy → backward into a gradient store.
#include "mha/train/loss_and_gradients.hpp"

#include "mha/train/cross_entropy.hpp"

namespace mha::train {

LossAndGradients loss_and_gradients(const Transformer& model, const Batch& batch,
                                    const AttentionDropout& dropout, const Context& ctx) {
  if (batch.targets.shape() != batch.input.input_ids.shape())
    throw_invalid("targets", "shape " + shape_str(batch.input.input_ids.shape()) + " (like input_ids)",
                  shape_str(batch.targets.shape()));
  TransformerTape tape;
  const TransformerOutput out = model.forward(
      batch.input, {.output_hidden_states = false, .output_attentions = false, .output_query_key = false},
      ctx, &tape, dropout);
  const Tensor<std::int64_t> targets = Tensor<std::int64_t>::copy_of(batch.targets);
  const Index vocab = model.config().vocab_size, rows = out.logits.numel() / vocab;
  const CrossEntropy ce = cross_entropy(Tensor<>::copy_of(out.logits.view_as({rows, vocab})), targets.values());
  LossAndGradients result{.loss = ce.loss, .predicted = ce.predicted, .correct = ce.correct,
                          .gradients = model.zero_gradients()};
  model.backward(tape, ce.dlogits.view_as(out.logits.shape()), result.gradients, ctx);
  return result;
}

}  // namespace mha::train
