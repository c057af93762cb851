// KvCache: one attention layer's cached keys and values for incremental decoding.
//
//   keys:   [B, Hkv, S_max, D]    values: [B, Hkv, S_max, Dv]    lengths: [B]
//
// Allocated once, at construction, in one element type (f32, or bf16 / f16 to halve the bytes a
// decode step reads); nothing is reallocated or moved afterwards. Sequence b holds length(b)
// tokens at positions [0, length(b)); append() converts new keys and values (fp32) to the cache's
// type and writes them at the end of each sequence, in place. Sequences of one batch may hold
// different lengths. Memory: exactly (D + Dv)·B·Hkv·S_max·sizeof(dtype) bytes (2·B·Hkv·S_max·D·
// sizeof with Dv = D).
//
// Element (b, g, s, x) of keys sits at ((b·Hkv + g)·S_max + s)·D + x (values likewise with Dv):
// each (sequence, kv head) is one run of S_max rows, so a decode step streams its keys and values
// front to back. bf16 is the upper half of the fp32 bit pattern, rounded to nearest even; f16 is
// IEEE binary16 (rounded to nearest even, overflow to ±Inf). Readers widen to fp32 and accumulate
// in fp32 or wider.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha {

enum class CacheDtype : std::uint8_t { f32, bf16, f16 };

std::string_view cache_dtype_name(CacheDtype dtype);  // "f32", "bf16", "f16"
// Parses "f32" / "bf16" / "f16"; throws mha::Error naming `argument` otherwise.
CacheDtype parse_cache_dtype(std::string_view text, std::string_view argument = "cache-dtype");
std::size_t cache_dtype_bytes(CacheDtype dtype);  // 4, 2, 2

struct KvCacheShape {
  Index batch = 1;       // B
  Index kv_heads = 1;    // Hkv
  Index max_length = 0;  // S_max: tokens each sequence can hold
  Index head_dim = 0;    // D
  Index value_dim = 0;   // Dv; 0 = head_dim
  CacheDtype dtype = CacheDtype::f32;
  bool operator==(const KvCacheShape&) const = default;
};

class KvCache {
 public:
  KvCache() = default;
  // Validates the shape (mha::Error naming the field) and allocates the whole cache; every
  // sequence starts empty.
  explicit KvCache(KvCacheShape shape);

  const KvCacheShape& shape() const { return shape_; }
  CacheDtype dtype() const { return shape_.dtype; }
  Index batch() const { return shape_.batch; }
  Index kv_heads() const { return shape_.kv_heads; }
  Index max_length() const { return shape_.max_length; }
  Index head_dim() const { return shape_.head_dim; }
  Index value_dim() const { return shape_.value_dim; }
  bool empty_shape() const { return shape_.max_length == 0; }

  // Tokens held by sequence b (throws mha::Error naming "batch index" when b is out of range).
  Index length(Index b) const;
  std::span<const Index> lengths() const { return lengths_; }
  // Bytes allocated for keys and values: (D + Dv)·B·Hkv·S_max·sizeof(dtype).
  std::size_t bytes() const;

  // Appends counts[b] tokens to sequence b from k [B, Hkv, n, D] and v [B, Hkv, n, Dv] (any
  // strides; rows i >= counts[b] are not read). Empty `counts` means n for every sequence.
  // Everything is checked before anything is written: a shape that differs from the cache's, a
  // count outside [0, n] or a sequence that would pass S_max throws mha::Error naming the
  // argument, the expected and the actual value, and leaves the cache as it was.
  void append(TensorView<const float> k, TensorView<const float> v, std::span<const Index> counts = {});
  // Same, into one sequence: k [Hkv, n, D], v [Hkv, n, Dv].
  void append_sequence(Index b, TensorView<const float> k, TensorView<const float> v);

  // Empties every sequence (the memory is kept).
  void clear();
  // Keeps the first `length` tokens of sequence b (0 <= length <= length(b)).
  void truncate(Index b, Index length);

  // The storage, in the dtype's encoding: float for f32, the 16-bit patterns for bf16 / f16.
  const void* key_data() const { return keys_.get(); }
  const void* value_data() const { return values_.get(); }
  // Element offsets (not bytes) of row (b, g, s).
  Index key_offset(Index b, Index g, Index s) const {
    return ((b * shape_.kv_heads + g) * shape_.max_length + s) * shape_.head_dim;
  }
  Index value_offset(Index b, Index g, Index s) const {
    return ((b * shape_.kv_heads + g) * shape_.max_length + s) * shape_.value_dim;
  }
  // One element widened to fp32 (for tests and the reference; kernels read rows in bulk).
  float key(Index b, Index g, Index s, Index x) const;
  float value(Index b, Index g, Index s, Index x) const;

 private:
  struct Free {
    void operator()(void* block) const;
  };

  // Throws mha::Error naming `name` unless view is [B, Hkv, n, width] (batched) or [Hkv, n, width].
  void check_rows(const TensorView<const float>& view, const char* name, Index width,
                  bool batched) const;
  // Converts `count` rows per kv head (strides: head, row, element) to the end of sequence b.
  void write_rows(Index b, const float* k, const Index* k_strides, const float* v,
                  const Index* v_strides, Index count);

  KvCacheShape shape_{};
  std::vector<Index> lengths_;
  std::unique_ptr<void, Free> keys_, values_;
};

// The conversions the cache uses, one element at a time (round to nearest even).
std::uint16_t bf16_from_float(float x);
float float_from_bf16(std::uint16_t bits);
std::uint16_t f16_from_float(float x);
float float_from_f16(std::uint16_t bits);

}  // namespace mha
