// Per-head queries and keys of one self-attention layer for one sequence, as the layer handed
// them back (MhaOptions::need_query_key, BertForwardOptions::output_query_key,
// train::ForwardRequest::query_key), so a viewer can show how a softmax weight comes about:
// q·k, the scaled score, the softmax. Nothing here projects anything again.
//
//   queries [H, L, D]     keys [Hkv, S, D]: with GQA, query head h reads kv head h / (H/Hkv)
//   score_h[i, j] = scale · q_h,i · k_h,j      softmax_j(score_h[i, ·]) = the layer's weights
//
// The attention weights alone cannot give the scores back (softmax forgets a constant per row),
// hence the queries and keys.
#pragma once

#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::viz {

struct QueryKey {
  Tensor<> queries;  // [H, L, D]
  Tensor<> keys;     // [H, S, D], one per query head (GQA's shared keys repeated)
  double scale = 1;  // the default score scale, 1/√D
};

// From one sequence's queries [H, L, D] and keys [Hkv, S, D] (e.g. batch b of the layer's
// [B, H, L, D] and [B, Hkv, S, D]). Throws mha::Error naming the argument when a rank is not 3,
// the head sizes differ, or Hkv does not divide H.
QueryKey query_key_of(TensorView<const float> queries, TensorView<const float> keys);

// Sequence `batch_index` of every layer's queries [B, H, L, D] and keys [B, Hkv, S, D] (the
// vectors of an encoder's result); empty when they were not asked for. Throws as query_key_of
// does, and when the two lists differ in length or batch_index is outside [0, B).
std::vector<QueryKey> query_key_per_layer(const std::vector<Tensor<>>& queries,
                                          const std::vector<Tensor<>>& keys, Index batch_index = 0);

// scale · q_h,i · k_h,j for every head, query and key: [H, L, S], accumulated in double.
Tensor<> attention_scores(const QueryKey& qk);

}  // namespace mha::viz
