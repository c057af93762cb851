#include "mha/viz/query_key.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "mha/core/error.hpp"

namespace mha::viz {

QueryKey query_key_of(TensorView<const float> queries, TensorView<const float> keys) {
  if (queries.rank() != 3)
    throw_invalid("queries", "shape [H, L, D]", shape_str(queries.shape()));
  if (keys.rank() != 3 || keys.dim(2) != queries.dim(2))
    throw_invalid("keys", "shape [Hkv, S, " + std::to_string(queries.dim(2)) + "] (D of queries)",
                  shape_str(keys.shape()));
  const Index heads = queries.dim(0), kv_heads = keys.dim(0), length = keys.dim(1),
              d = queries.dim(2);
  if (kv_heads < 1 || heads % kv_heads != 0)
    throw_invalid("keys", "a number of heads dividing the queries' " + std::to_string(heads),
                  std::to_string(kv_heads));
  QueryKey qk{.queries = Tensor<>::copy_of(queries),
              .keys = Tensor<>({heads, length, d}),
              .scale = 1.0 / std::sqrt(static_cast<double>(d))};
  const Index group = heads / kv_heads;
  for (Index h = 0; h < heads; ++h)
    for (Index j = 0; j < length; ++j)
      for (Index c = 0; c < d; ++c) qk.keys(h, j, c) = keys(h / group, j, c);
  return qk;
}

std::vector<QueryKey> query_key_per_layer(const std::vector<Tensor<>>& queries,
                                          const std::vector<Tensor<>>& keys, Index batch_index) {
  if (keys.size() != queries.size())
    throw_invalid("keys", std::to_string(queries.size()) + " layers (like queries)",
                  std::to_string(keys.size()));
  std::vector<QueryKey> out;
  for (std::size_t n = 0; n < queries.size(); ++n) {
    const Tensor<>& q = queries[n];
    const Tensor<>& k = keys[n];
    const std::string layer = "[" + std::to_string(n) + "]";
    if (q.rank() != 4) throw_invalid("queries" + layer, "shape [B, H, L, D]", shape_str(q.shape()));
    if (k.rank() != 4) throw_invalid("keys" + layer, "shape [B, Hkv, S, D]", shape_str(k.shape()));
    if (batch_index < 0 || batch_index >= q.dim(0) || batch_index >= k.dim(0))
      throw_invalid("batch_index", "in [0, " + std::to_string(std::min(q.dim(0), k.dim(0))) + ")",
                    std::to_string(batch_index));
    const auto sequence = [batch_index](const Tensor<>& t) {
      const Index stride = t.dim(1) * t.dim(2) * t.dim(3);
      return TensorView<const float>(t.data() + batch_index * stride, {t.dim(1), t.dim(2), t.dim(3)});
    };
    out.push_back(query_key_of(sequence(q), sequence(k)));
  }
  return out;
}

Tensor<> attention_scores(const QueryKey& qk) {
  const Index heads = qk.queries.dim(0), length = qk.queries.dim(1), d = qk.queries.dim(2);
  const Index keys = qk.keys.dim(1);
  Tensor<> scores({heads, length, keys});
  for (Index h = 0; h < heads; ++h)
    for (Index i = 0; i < length; ++i) {
      const float* q_hi = qk.queries.data() + (h * length + i) * d;
      float* scores_hi = scores.data() + (h * length + i) * keys;
      for (Index j = 0; j < keys; ++j) {
        const float* k_hj = qk.keys.data() + (h * keys + j) * d;
        double dot = 0;  // q_h,i · k_h,j
        for (Index c = 0; c < d; ++c) dot += double(q_hi[c]) * double(k_hj[c]);
        scores_hi[j] = static_cast<float>(qk.scale * dot);
      }
    }
  return scores;
}

}  // namespace mha::viz
