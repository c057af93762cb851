// Embedding: nn.Embedding's table lookup, forward and backward.
//   table: [V, D]   ids: any shape, values in [0, V)   output: [ids..., D]
//   output[n…, d] = table[ids[n…], d]
//   d table[v, d] = Σ over the positions n with ids[n] = v of d output[n, d]   (in position order)
#pragma once

#include <cstdint>
#include <string>

#include "mha/core/tensor.hpp"
#include "mha/layers/weight.hpp"

namespace mha {

class Embedding {
 public:
  // Throws mha::Error unless table is rank 2.
  explicit Embedding(Weight table);

  Index num_embeddings() const { return table_.dim(0); }
  Index embedding_dim() const { return table_.dim(1); }
  const Weight& table() const { return table_; }

  // Throws mha::Error naming `argument`, the position and the valid range for an id outside
  // [0, V).
  Tensor<> forward(TensorView<const std::int64_t> ids, const std::string& argument = "ids") const;

  // Writes d table (overwritten, [V, D]) for dL/d output = grad_output ([ids..., D]); ids must be
  // the forward's (already checked).
  void backward(TensorView<const std::int64_t> ids, TensorView<const float> grad_output,
                TensorView<float> grad_table) const;

 private:
  Weight table_;
};

}  // namespace mha
