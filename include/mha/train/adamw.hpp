// AdamW (Loshchilov & Hutter) with linear warm-up, linear decay and global-norm clipping.
//
//   lr_t   = lr · t / warmup                                 for t ≤ warmup (t counts from 1)
//          = lr · max(0, (T − t) / (T − warmup))             after, to 0 at t = T = total_steps
//   g      ← g · min(1, clip_norm / ‖g‖₂)                    ‖g‖₂ over all parameters together
//   m      ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
//   θ      ← θ − lr_t·( m̂ / (√v̂ + ε) + λ·θ ),   m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)
// Weight decay λ applies to matrices only (rank ≥ 2: projections, embeddings, the head), never to
// biases or LayerNorm gains, as is usual for transformers. Parameters, gradients and moments are
// stores of one layout (mha/core/tensor_store.hpp). Updates run in double; ‖g‖₂ sums the tensors
// in name order, so neither the thread count nor the model's declaration order changes a bit.
#pragma once

#include "mha/core/tensor_store.hpp"

namespace mha::train {

struct AdamWConfig {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.98;  // "Attention Is All You Need" §5.3
  double epsilon = 1e-9;
  double weight_decay = 0.01;
  Index warmup_steps = 100;
  Index total_steps = 1000;
  double clip_norm = 1.0;  // ≤ 0: no clipping
};

// Throws mha::Error naming the field.
void validate(const AdamWConfig& config);

class AdamW {
 public:
  // Zero moments of the layout of `params`.
  AdamW(AdamWConfig config, const TensorStore& params);

  const AdamWConfig& config() const { return config_; }
  Index steps_done() const { return step_; }
  // lr_t for step t (1-based), the schedule above.
  double learning_rate(Index step) const;

  // One update; returns ‖g‖₂ before clipping. params and grads must have the moments' layout.
  double step(TensorStore& params, const TensorStore& grads);

  // The moments, for checkpoints.
  const TensorStore& first_moments() const { return m_; }
  const TensorStore& second_moments() const { return v_; }
  // Restores a saved state (layouts checked against the current moments).
  void restore(Index steps_done, TensorStore m, TensorStore v);

 private:
  AdamWConfig config_;
  Index step_ = 0;
  TensorStore m_, v_;
};

}  // namespace mha::train
