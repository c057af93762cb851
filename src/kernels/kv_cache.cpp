// KvCache and the bf16 / f16 scalar conversions (contract in mha/kernels/kv_cache.hpp).
//
// append() validates every argument before it writes one element, so a throw leaves the cache
// exactly as it was (the tests check each error path). The conversions are integer bit
// manipulations, exact for every input: round to nearest, ties to even; NaN stays NaN (quiet,
// sign kept); f16 overflow (|x| ≥ 65520, the midpoint above 65504) gives ±Inf; f16 subnormals
// (|x| < 2^−14) are rounded on the 2^−24 grid.
#include "mha/kernels/kv_cache.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "mha/core/aligned_memory.hpp"
#include "mha/core/error.hpp"

namespace mha {
namespace {

// Kernels read whole vectors of 16-bit elements at a row's end; this slack after each block keeps
// such a read of the last row inside the allocation (64 bytes: one AVX-512 vector).
constexpr std::size_t kReadSlackBytes = 64;

// value >> shift rounded to nearest, ties to even (1 <= shift <= 31).
std::uint32_t shift_round_even(std::uint32_t value, int shift) {
  const std::uint32_t kept = value >> shift;
  const std::uint32_t rest = value & ((std::uint32_t{1} << shift) - 1);
  const std::uint32_t half = std::uint32_t{1} << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1U) != 0)) ? 1U : 0U);
}

void encode_row(CacheDtype dtype, void* base, Index offset, const float* src, Index src_step,
                Index count) {
  switch (dtype) {
    case CacheDtype::f32:
    {
      float* dst = static_cast<float*>(base) + offset;
      for (Index x = 0; x < count; ++x) dst[x] = src[x * src_step];
      return;
    }
    case CacheDtype::bf16: {
      auto* dst = static_cast<std::uint16_t*>(base) + offset;
      for (Index x = 0; x < count; ++x) dst[x] = bf16_from_float(src[x * src_step]);
      return;
    }
    case CacheDtype::f16: {
      auto* dst = static_cast<std::uint16_t*>(base) + offset;
      for (Index x = 0; x < count; ++x) dst[x] = f16_from_float(src[x * src_step]);
      return;
    }
  }
}

float decode(CacheDtype dtype, const void* base, Index offset) {
  switch (dtype) {
    case CacheDtype::f32: return static_cast<const float*>(base)[offset];
    case CacheDtype::bf16: return float_from_bf16(static_cast<const std::uint16_t*>(base)[offset]);
    case CacheDtype::f16: return float_from_f16(static_cast<const std::uint16_t*>(base)[offset]);
  }
  return std::numeric_limits<float>::quiet_NaN();
}

std::string dims(std::initializer_list<Index> extents) {
  std::string text = "shape [";
  bool first = true;
  for (const Index e : extents) {
    text += (first ? "" : ", ") + std::to_string(e);
    first = false;
  }
  return text + "]";
}

void require_positive(Index value, const char* field) {
  if (value < 1) throw_invalid(std::string("cache shape ") + field, ">= 1", std::to_string(value));
}

}  // namespace

std::string_view cache_dtype_name(CacheDtype dtype) {
  switch (dtype) {
    case CacheDtype::f32: return "f32";
    case CacheDtype::bf16: return "bf16";
    case CacheDtype::f16: return "f16";
  }
  return "unknown";
}

CacheDtype parse_cache_dtype(std::string_view text, std::string_view argument) {
  if (text == "f32") return CacheDtype::f32;
  if (text == "bf16") return CacheDtype::bf16;
  if (text == "f16") return CacheDtype::f16;
  throw_invalid(std::string(argument), "one of f32, bf16, f16", "'" + std::string(text) + "'");
}

std::size_t cache_dtype_bytes(CacheDtype dtype) { return dtype == CacheDtype::f32 ? 4 : 2; }

// ---- conversions ----

std::uint16_t bf16_from_float(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7FFFFFFFU) > 0x7F800000U)  // NaN: keep the sign and top payload, force quiet
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040U);
  // Round the low 16 bits to even; a carry into the exponent is the right answer (up to Inf).
  return static_cast<std::uint16_t>(shift_round_even(bits, 16));
}

float float_from_bf16(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

std::uint16_t f16_from_float(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000U);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFU;
  if (magnitude > 0x7F800000U)  // NaN
    return static_cast<std::uint16_t>(sign | 0x7E00U | ((magnitude >> 13) & 0x03FFU));
  if (magnitude >= 0x477FF000U) return static_cast<std::uint16_t>(sign | 0x7C00U);  // ≥ 65520 → Inf
  const auto exponent = static_cast<int>(magnitude >> 23);  // biased by 127
  if (exponent >= 113) {  // normal in f16 (≥ 2^−14): rebias 127 → 15 and round 13 mantissa bits
    const std::uint32_t rebased = magnitude - (std::uint32_t{112} << 23);
    return static_cast<std::uint16_t>(sign | shift_round_even(rebased, 13));
  }
  if (exponent < 102) return sign;  // below 2^−25: rounds to ±0
  // Subnormal: the significand with its implicit 1, counted in units of 2^−24:
  // x = m·2^(e−150) = (m >> (126 − e))·2^−24. A round up to 0x400 is the smallest normal.
  const std::uint32_t significand = (magnitude & 0x007FFFFFU) | 0x00800000U;
  return static_cast<std::uint16_t>(sign | shift_round_even(significand, 126 - exponent));
}

float float_from_f16(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000U) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1FU;
  const std::uint32_t mantissa = bits & 0x03FFU;
  if (exponent == 0) {  // zero or subnormal: mantissa·2^−24, exact in float
    const float value = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -value : value;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000U | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// ---- KvCache ----

void KvCache::Free::operator()(void* block) const { aligned_memory::release(block); }

KvCache::KvCache(KvCacheShape shape) : shape_(shape) {
  require_positive(shape_.batch, "batch");
  require_positive(shape_.kv_heads, "kv_heads");
  require_positive(shape_.max_length, "max_length");
  require_positive(shape_.head_dim, "head_dim");
  if (shape_.value_dim < 0)
    throw_invalid("cache shape value_dim", ">= 0 (0 = head_dim)", std::to_string(shape_.value_dim));
  if (shape_.value_dim == 0) shape_.value_dim = shape_.head_dim;
  lengths_.assign(static_cast<std::size_t>(shape_.batch), 0);
  const std::size_t rows =
      static_cast<std::size_t>(shape_.batch * shape_.kv_heads * shape_.max_length);
  const std::size_t size = cache_dtype_bytes(shape_.dtype);
  keys_.reset(aligned_memory::allocate(rows * static_cast<std::size_t>(shape_.head_dim) * size +
                                       kReadSlackBytes));
  values_.reset(aligned_memory::allocate(rows * static_cast<std::size_t>(shape_.value_dim) * size +
                                         kReadSlackBytes));
}

Index KvCache::length(Index b) const {
  if (b < 0 || b >= shape_.batch)
    throw_invalid("batch index", "an index in [0, " + std::to_string(shape_.batch) + ")",
                  std::to_string(b));
  return lengths_[static_cast<std::size_t>(b)];
}

std::size_t KvCache::bytes() const {
  if (empty_shape()) return 0;
  return static_cast<std::size_t>((shape_.head_dim + shape_.value_dim) * shape_.batch *
                                  shape_.kv_heads * shape_.max_length) *
         cache_dtype_bytes(shape_.dtype);
}

void KvCache::check_rows(const TensorView<const float>& view, const char* name, Index width,
                         bool batched) const {
  const Index rank = batched ? 4 : 3;
  const Index n = view.rank() == rank ? view.dim(-2) : -1;
  const bool ok = view.defined() && view.rank() == rank &&
                  (!batched || view.dim(0) == shape_.batch) && view.dim(-3) == shape_.kv_heads &&
                  view.dim(-1) == width;
  if (!ok) {
    const std::string n_text = n >= 0 ? std::to_string(n) : "n";
    throw_invalid(name,
                  batched ? "shape [" + std::to_string(shape_.batch) + ", " +
                                std::to_string(shape_.kv_heads) + ", " + n_text + ", " +
                                std::to_string(width) + "]"
                          : dims({shape_.kv_heads, n, width}),
                  view.defined() ? shape_str(view.shape()) : "no data");
  }
}

void KvCache::write_rows(Index b, const float* k, const Index* k_strides, const float* v,
                         const Index* v_strides, Index count) {
  const Index length = lengths_[static_cast<std::size_t>(b)];
  for (Index g = 0; g < shape_.kv_heads; ++g)
    for (Index i = 0; i < count; ++i) {
      encode_row(shape_.dtype, keys_.get(), key_offset(b, g, length + i),
                 k + g * k_strides[0] + i * k_strides[1], k_strides[2], shape_.head_dim);
      encode_row(shape_.dtype, values_.get(), value_offset(b, g, length + i),
                 v + g * v_strides[0] + i * v_strides[1], v_strides[2], shape_.value_dim);
    }
  lengths_[static_cast<std::size_t>(b)] = length + count;
}

void KvCache::append(TensorView<const float> k, TensorView<const float> v,
                     std::span<const Index> counts) {
  if (empty_shape()) throw_invalid("cache", "a cache with a shape", "a default-constructed cache");
  check_rows(k, "k", shape_.head_dim, true);
  check_rows(v, "v", shape_.value_dim, true);
  const Index n = k.dim(2);
  if (v.dim(2) != n)
    throw_invalid("v", "the " + std::to_string(n) + " rows of k", shape_str(v.shape()));
  if (!counts.empty() && static_cast<Index>(counts.size()) != shape_.batch)
    throw_invalid("counts", std::to_string(shape_.batch) + " counts (one per sequence) or none",
                  std::to_string(counts.size()));
  for (Index b = 0; b < shape_.batch; ++b) {
    const Index count = counts.empty() ? n : counts[static_cast<std::size_t>(b)];
    if (count < 0 || count > n)
      throw_invalid("counts[" + std::to_string(b) + "]", "a count in [0, " + std::to_string(n) + "]",
                    std::to_string(count));
    const Index length = lengths_[static_cast<std::size_t>(b)];
    if (length + count > shape_.max_length)
      throw_invalid("counts[" + std::to_string(b) + "]",
                    "at most " + std::to_string(shape_.max_length - length) +
                        " new tokens (max_length " + std::to_string(shape_.max_length) +
                        ", sequence holds " + std::to_string(length) + ")",
                    std::to_string(count));
  }
  const Index k_strides[3] = {k.stride(1), k.stride(2), k.stride(3)};
  const Index v_strides[3] = {v.stride(1), v.stride(2), v.stride(3)};
  for (Index b = 0; b < shape_.batch; ++b)
    write_rows(b, k.data() + b * k.stride(0), k_strides, v.data() + b * v.stride(0), v_strides,
               counts.empty() ? n : counts[static_cast<std::size_t>(b)]);
}

void KvCache::append_sequence(Index b, TensorView<const float> k, TensorView<const float> v) {
  if (empty_shape()) throw_invalid("cache", "a cache with a shape", "a default-constructed cache");
  const Index length = KvCache::length(b);  // validates b
  check_rows(k, "k", shape_.head_dim, false);
  check_rows(v, "v", shape_.value_dim, false);
  const Index n = k.dim(1);
  if (v.dim(1) != n)
    throw_invalid("v", "the " + std::to_string(n) + " rows of k", shape_str(v.shape()));
  if (length + n > shape_.max_length)
    throw_invalid("k", "at most " + std::to_string(shape_.max_length - length) +
                           " new tokens (max_length " + std::to_string(shape_.max_length) +
                           ", sequence holds " + std::to_string(length) + ")",
                  std::to_string(n));
  const Index k_strides[3] = {k.stride(0), k.stride(1), k.stride(2)};
  const Index v_strides[3] = {v.stride(0), v.stride(1), v.stride(2)};
  write_rows(b, k.data(), k_strides, v.data(), v_strides, n);
}

void KvCache::clear() { std::fill(lengths_.begin(), lengths_.end(), 0); }

void KvCache::truncate(Index b, Index length) {
  const Index held = KvCache::length(b);
  if (length < 0 || length > held)
    throw_invalid("length", "a length in [0, " + std::to_string(held) + "]", std::to_string(length));
  lengths_[static_cast<std::size_t>(b)] = length;
}

float KvCache::key(Index b, Index g, Index s, Index x) const {
  return decode(shape_.dtype, keys_.get(), key_offset(b, g, s) + x);
}

float KvCache::value(Index b, Index g, Index s, Index x) const {
  return decode(shape_.dtype, values_.get(), value_offset(b, g, s) + x);
}

}  // namespace mha
