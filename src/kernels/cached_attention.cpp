// Front of cached_attention: validate once, then dispatch on ctx.kernel (the contract is in
// mha/kernels/cached_attention.hpp). The checks compare extents one by one and build strings only
// to throw, so a valid call allocates nothing here (a decode step is allocation-free).
#include "mha/kernels/cached_attention.hpp"

#include <cmath>
#include <string>

#include "kernels/cpu/cached_attention_cpu.hpp"
#include "kernels/reference/cached_attention_reference.hpp"
#include "mha/core/error.hpp"

namespace mha {
namespace {

std::string dims_text(std::initializer_list<Index> extents) {
  std::string text = "shape [";
  for (auto it = extents.begin(); it != extents.end(); ++it)
    text += (it == extents.begin() ? "" : ", ") + std::to_string(*it);
  return text + "]";
}

template <class T>
void expect_dims(const TensorView<T>& view, std::initializer_list<Index> extents, const char* name) {
  bool same = view.defined() && view.rank() == static_cast<Index>(extents.size());
  Index axis = 0;
  for (auto it = extents.begin(); same && it != extents.end(); ++it, ++axis) same = view.dim(axis) == *it;
  if (!same) throw_invalid(name, dims_text(extents), view.defined() ? shape_str(view.shape()) : "no data");
}

void validate(const CachedAttentionArgs& a) {
  if (a.cache == nullptr || a.cache->empty_shape())
    throw_invalid("cache", "a KvCache with a shape", a.cache == nullptr ? "null" : "an empty cache");
  const KvCache& cache = *a.cache;
  if (!a.q.defined() || a.q.rank() != 4)
    throw_invalid("q", "a rank-4 view [B, Hq, n, D]", a.q.defined() ? shape_str(a.q.shape()) : "no data");
  const Index heads = a.q.dim(1), n = a.q.dim(2);
  if (heads < 1 || heads % cache.kv_heads() != 0)
    throw_invalid("q", "a number of heads that the cache's " + std::to_string(cache.kv_heads()) +
                           " kv heads divide", std::to_string(heads));
  expect_dims(a.q, {cache.batch(), heads, n, cache.head_dim()}, "q");
  expect_dims(a.out, {cache.batch(), heads, n, cache.value_dim()}, "out");
  if (a.lse.defined()) expect_dims(a.lse, {cache.batch(), heads, n}, "lse");
  if (!a.counts.empty() && static_cast<Index>(a.counts.size()) != cache.batch())
    throw_invalid("counts", std::to_string(cache.batch()) + " counts (one per sequence) or none",
                  std::to_string(a.counts.size()));
  const bool positioned = a.causal || a.window_left >= 0;
  for (Index b = 0; b < cache.batch(); ++b) {
    const Index count = a.counts.empty() ? n : a.counts[static_cast<std::size_t>(b)];
    const Index limit = positioned ? std::min(n, cache.length(b)) : n;
    if (count < 0 || count > limit)
      throw_invalid("counts", "counts[" + std::to_string(b) + "] in [0, " + std::to_string(limit) +
                                  "] (n = " + std::to_string(n) + ", length = " +
                                  std::to_string(cache.length(b)) + ")",
                    std::to_string(count));
  }
  if (!std::isfinite(a.scale)) throw_invalid("scale", "a finite number", std::to_string(a.scale));
  if (a.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(a.window_left));
}

}  // namespace

void cached_attention(const CachedAttentionArgs& args, const Context& ctx) {
  validate(args);
  if (ctx.sequence_parallel != nullptr)
    throw_invalid("context", "no sequence_parallel hook (a KvCache lives in one process)",
                  "a sequence-parallel context");
  switch (ctx.kernel) {
    case KernelKind::reference: return cached_attention_reference(args);
    case KernelKind::cpu: return cached_attention_cpu(args, ctx);
  }
  throw_invalid("kernel", "a kernel compiled into this build (reference, cpu)", "an unknown kind");
}

}  // namespace mha
