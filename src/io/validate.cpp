#include "io/validate.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "io/header_parser.hpp"
#include "io/safetensors_error.hpp"
#include "io/utf8.hpp"

namespace mha {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; the reader copies bytes without swapping");

using Kind = SafetensorsError::Kind;
using U64 = std::uint64_t;
constexpr U64 kU64Max = std::numeric_limits<U64>::max();

std::string raw_shape_str(const std::vector<U64>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string offsets_str(const RawTensorEntry& e) {
  return "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
}

// a·b, or nullopt when it does not fit 64 bits (Rust's usize::checked_mul).
std::optional<U64> checked_mul(U64 a, U64 b) {
  if (b != 0 && a > kU64Max / b) return std::nullopt;
  return a * b;
}

// Steps 7-9 for one tensor: the byte count its shape and dtype imply.
U64 implied_bytes(const std::string& name, const RawTensorEntry& e, std::string_view source) {
  const std::string tensor = "tensor " + single_quoted(name) + ": ";
  // Step 7. The fold runs left to right like the reference, so [2^40, 2^40, 0] overflows.
  std::optional<U64> elements = 1;
  for (const U64 extent : e.shape)
    if (elements) elements = checked_mul(*elements, extent);
  if (!elements)
    fail(Kind::Overflow, source, tensor + "shape " + raw_shape_str(e.shape) +
                                     " has more than 2^64 - 1 elements");
  const std::optional<U64> bits = checked_mul(*elements, dtype_bits(e.dtype));
  if (!bits)
    fail(Kind::Overflow, source, tensor + "shape " + raw_shape_str(e.shape) + " of " +
                                     std::string(dtype_name(e.dtype)) +
                                     " has more than 2^64 - 1 bits");
  // mha::Shape extents are signed 64-bit and numel_of multiplies them left to right in that
  // type, so every extent and every running product must stay ≤ 2^63 − 1 (stricter than the
  // reference's usize: [2^62, 2, 0] holds no element but reaches 2^63 on the way). The running
  // products are step 7's, which did not overflow 64 bits.
  constexpr U64 kIndexMax = static_cast<U64>(std::numeric_limits<Index>::max());
  U64 running = 1;
  for (const U64 extent : e.shape) {
    running *= extent;
    if (extent > kIndexMax || running > kIndexMax)
      fail(Kind::Overflow, source, tensor + "shape " + raw_shape_str(e.shape) +
                                       " has an extent or a running element count above 2^63 - 1");
  }
  // Step 8: sub-byte dtypes (F4, F6_*) must fill whole bytes.
  if (*bits % 8 != 0)
    fail(Kind::MisalignedSlice, source,
         tensor + std::to_string(*elements) + " elements of " + std::string(dtype_name(e.dtype)) +
             " take " + std::to_string(*bits) + " bits, not a whole number of bytes");
  return *bits / 8;
}

void check_offsets(const std::string& name, const RawTensorEntry& e, U64 expected_begin,
                   std::string_view source) {
  const std::string tensor = "tensor " + single_quoted(name) + ": " + offsets_str(e);
  if (e.end < e.begin) fail(Kind::InvalidOffset, source, tensor + " end before they begin");
  if (e.begin != expected_begin)
    fail(Kind::InvalidOffset, source,
         tensor + (e.begin > expected_begin ? " leave a gap" : " overlap the previous tensor") +
             ": expected BEGIN = " + std::to_string(expected_begin) +
             " (tensors must tile the data buffer from 0 without gaps or overlaps)");
}

}  // namespace

ValidatedFile validate_safetensors(std::span<const std::uint8_t> file, std::string_view source) {
  const U64 file_size = file.size();
  // Step 1.
  if (file_size < kLengthPrefixBytes)
    fail(Kind::HeaderTooSmall, source,
         "file has " + std::to_string(file_size) + " bytes, fewer than the 8-byte header length");
  // Step 2. memcpy: the buffer gives no alignment guarantee for a u64 load.
  U64 header_bytes = 0;
  std::memcpy(&header_bytes, file.data(), sizeof header_bytes);
  if (header_bytes > kMaxHeaderBytes)
    fail(Kind::HeaderTooLarge, source,
         "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
             std::to_string(kMaxHeaderBytes) + " bytes");
  // Step 3 (no overflow: header_bytes ≤ 10^8 and file_size ≥ 8).
  if (header_bytes > file_size - kLengthPrefixBytes)
    fail(Kind::InvalidHeaderLength, source,
         "header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
             std::to_string(file_size) + " bytes)");
  const auto header = file.subspan(kLengthPrefixBytes, static_cast<std::size_t>(header_bytes));
  // Step 4.
  if (const auto bad = first_invalid_utf8(header))
    fail(Kind::InvalidUtf8, source,
         "header: invalid UTF-8 at file offset " + std::to_string(kLengthPrefixBytes + *bad));
  // Step 5.
  RawHeader raw = parse_header(header, kLengthPrefixBytes, source);

  // Steps 6-9, tensor by tensor in (BEGIN, END) order (ties keep name order: deterministic).
  std::vector<const std::pair<const std::string, RawTensorEntry>*> by_offset;
  by_offset.reserve(raw.tensors.size());
  for (const auto& item : raw.tensors) by_offset.push_back(&item);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::pair(a->second.begin, a->second.end) < std::pair(b->second.begin, b->second.end);
  });
  U64 covered = 0;  // running END: bytes of the data buffer claimed so far
  for (const auto* item : by_offset) {
    const auto& [name, e] = *item;
    check_offsets(name, e, covered, source);  // step 6
    covered = e.end;
    const U64 expected = implied_bytes(name, e, source);  // steps 7-8
    if (e.end - e.begin != expected)  // step 9
      fail(Kind::SizeMismatch, source,
           "tensor " + single_quoted(name) + ": " + offsets_str(e) + " hold " +
               std::to_string(e.end - e.begin) + " bytes, but shape " + raw_shape_str(e.shape) +
               " of " + std::string(dtype_name(e.dtype)) + " needs " + std::to_string(expected));
  }
  // Step 10: the tensors must cover the data buffer exactly (no trailing bytes, no truncation).
  const U64 data_start = kLengthPrefixBytes + header_bytes;
  const U64 buffer_bytes = file_size - data_start;
  if (covered != buffer_bytes)
    fail(Kind::IncompleteBuffer, source,
         "data buffer at file offset " + std::to_string(data_start) + " has " +
             std::to_string(buffer_bytes) + " bytes, but the tensors cover " +
             std::to_string(covered) +
             (covered > buffer_bytes ? " (file truncated)" : " (trailing bytes)"));

  ValidatedFile out{.data_start = data_start, .tensors = {}, .metadata = std::move(raw.metadata)};
  for (auto& [name, e] : raw.tensors) {
    Shape shape;
    shape.reserve(e.shape.size());
    for (const U64 extent : e.shape) shape.push_back(static_cast<Index>(extent));  // ≤ 2^63 − 1
    out.tensors.emplace(name, TensorInfo{e.dtype, std::move(shape), e.begin, e.end});
  }
  return out;
}

}  // namespace mha
