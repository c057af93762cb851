// Embedding lookup: output[n…, :] = table[ids[n…], :], with every id range-checked first.
#include "mha/layers/embedding.hpp"

#include <algorithm>

namespace mha {

Embedding::Embedding(Weight table) : table_(std::move(table)) {
  if (!table_.defined() || table_.rank() != 2)
    throw_invalid("table", "a rank-2 tensor [num_embeddings, embedding_dim]",
                  table_.defined() ? shape_str(table_.shape()) : "none");
}

Tensor<> Embedding::forward(TensorView<const std::int64_t> ids, const std::string& argument) const {
  const Tensor<std::int64_t> flat = Tensor<std::int64_t>::copy_of(ids);
  const Index dim = embedding_dim();
  Shape out_shape = ids.shape();
  out_shape.push_back(dim);
  Tensor<> out(out_shape);
  for (Index n = 0; n < flat.numel(); ++n) {
    const std::int64_t id = flat.data()[n];
    if (id < 0 || id >= num_embeddings())
      throw_invalid(argument, "ids in [0, " + std::to_string(num_embeddings()) + ")",
                    std::to_string(id) + " at flat position " + std::to_string(n));
    std::copy_n(table_.data() + id * dim, dim, out.data() + n * dim);
  }
  return out;
}

void Embedding::backward(TensorView<const std::int64_t> ids, TensorView<const float> grad_output,
                         TensorView<float> grad_table) const {
  const Index dim = embedding_dim();
  Shape out_shape = ids.shape();
  out_shape.push_back(dim);
  if (grad_output.shape() != out_shape)
    throw_invalid("grad_output", "shape " + shape_str(out_shape), shape_str(grad_output.shape()));
  if (grad_table.shape() != table_.shape() || !grad_table.is_contiguous())
    throw_invalid("grad_table", "a contiguous view of shape " + shape_str(table_.shape()),
                  shape_str(grad_table.shape()));
  const Tensor<std::int64_t> flat = Tensor<std::int64_t>::copy_of(ids);
  const Tensor<> grad = Tensor<>::copy_of(grad_output);
  std::fill_n(grad_table.data(), grad_table.numel(), 0.0f);
  for (Index n = 0; n < flat.numel(); ++n) {
    const std::int64_t id = flat.data()[n];
    if (id < 0 || id >= num_embeddings())
      throw_invalid("ids", "ids in [0, " + std::to_string(num_embeddings()) + ")",
                    std::to_string(id) + " at flat position " + std::to_string(n));
    float* row = grad_table.data() + id * dim;
    for (Index d = 0; d < dim; ++d) row[d] += grad.data()[n * dim + d];
  }
}

}  // namespace mha
