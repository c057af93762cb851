// Embedding: nn.Embedding's table lookup.
//   table: [V, D]   ids: any shape, values in [0, V)   output: [ids..., D]
//   output[n…, d] = table[ids[n…], d]
#pragma once

#include <cstdint>
#include <string>

#include "mha/core/tensor.hpp"

namespace mha {

class Embedding {
 public:
  // Throws mha::Error unless table is rank 2.
  explicit Embedding(Tensor<> table);

  Index num_embeddings() const { return table_.dim(0); }
  Index embedding_dim() const { return table_.dim(1); }
  const Tensor<>& table() const { return table_; }

  // Throws mha::Error naming `argument`, the position and the valid range for an id outside
  // [0, V).
  Tensor<> forward(TensorView<const std::int64_t> ids, const std::string& argument = "ids") const;

 private:
  Tensor<> table_;
};

}  // namespace mha
