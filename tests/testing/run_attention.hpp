// run_attention: calls mha::attention on contiguous tensors and returns out, weights and lse.
#pragma once

#include <utility>

#include "mha/kernels/attention.hpp"

namespace mha::testing {

struct AttentionResult {
  Tensor<> out, weights, lse;
};

//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]
inline AttentionResult run_attention(const Tensor<>& q, const Tensor<>& k, const Tensor<>& v,
                                     AttentionParams params,
                                     KernelKind kernel = KernelKind::reference) {
  const Index batch = q.dim(0), heads = q.dim(1), lq = q.dim(2), lk = k.dim(2), dv = v.dim(3);
  AttentionResult r{Tensor<>({batch, heads, lq, dv}), Tensor<>({batch, heads, lq, lk}),
                    Tensor<>({batch, heads, lq})};
  attention({.q = q.view(), .k = k.view(), .v = v.view(), .out = r.out.view(),
             .weights = r.weights.view(), .lse = r.lse.view(), .params = std::move(params)},
            Context{.kernel = kernel});
  return r;
}

}  // namespace mha::testing
