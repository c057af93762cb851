// safetensors: read (memory-mapped, fully validated) and write the Hugging Face tensor file format.
//
// Layout: [N: u64 little-endian][N bytes of UTF-8 JSON header][data buffer]. The header maps each
// tensor name to {"dtype", "shape", "data_offsets": [BEGIN, END]} (offsets relative to the data
// buffer) and may hold "__metadata__": {string: string}. See docs/safetensors.md and
// /work/shared/formats.md §1 for the rules; the reader checks them in the reference order:
//   1 file < 8 bytes                      HeaderTooSmall
//   2 N > 100,000,000                     HeaderTooLarge
//   3 8 + N > file size                   InvalidHeaderLength
//   4 header not UTF-8                    InvalidUtf8
//   5 header JSON: syntax, types, fields  InvalidJson, UnknownDType, DuplicateName, InvalidMetadata
//   6-9 per tensor, sorted by (BEGIN, END): offsets contiguous from 0 (InvalidOffset), shape and
//     bit counts fit 64 bits (Overflow), whole bytes (MisalignedSlice), END−BEGIN = bytes implied
//     by shape × dtype (SizeMismatch)
//   10 last END ≠ data buffer size        IncompleteBuffer
// Stricter than the reference reader, on purpose (parser differentials are an attack surface):
//   - a duplicate JSON key anywhere (tensor name, metadata key, field of a tensor entry) is a
//     DuplicateName error instead of "the last one wins";
//   - a tensor entry must have exactly the fields dtype, shape and data_offsets: a missing or
//     unknown field is InvalidJson (the JSON schema's additionalProperties: false);
//   - a UTF-8 byte order mark before the JSON is InvalidJson (it is not JSON whitespace).
// Any JSON whitespace (space, tab, LF, CR) may lead or trail the header object.
//
// Tensor bytes are never loaded through a typed pointer into the mapping (the format does not
// promise alignment): every element is copied out with memcpy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/core/shape.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

// The safetensors dtypes, declared in the format's increasing-alignment order (the writer sorts
// tensors by descending enum order, so keep this order).
enum class DType {
  BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64
};

// The on-disk spelling: dtype_name(DType::F32) == "F32".
std::string_view dtype_name(DType dtype);
// The inverse of dtype_name; nullopt for a string that names no dtype.
std::optional<DType> parse_dtype(std::string_view name);
// Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64.
std::uint64_t dtype_bits(DType dtype);

struct TensorInfo {
  DType dtype = DType::F32;
  Shape shape;
  // Byte range [begin, end) relative to the start of the data buffer (file offset 8 + N).
  std::uint64_t begin = 0, end = 0;
};

class SafetensorsError : public Error {
 public:
  enum class Kind {
    HeaderTooSmall,       // fewer than 8 bytes
    HeaderTooLarge,       // header length N > 100,000,000 (also refused by the writer)
    InvalidHeaderLength,  // 8 + N past the end of the file
    InvalidUtf8,          // header bytes are not UTF-8
    InvalidJson,          // bad JSON syntax, wrong value types, missing or unknown fields
    UnknownDType,         // a dtype string outside the list above
    DuplicateName,        // a JSON key repeated in one object (or a repeated name in the writer)
    InvalidMetadata,      // __metadata__ is not an object of string values
    InvalidOffset,        // data_offsets not contiguous from 0 (gap, overlap) or END < BEGIN
    Overflow,             // element or bit count does not fit 64 bits (or an extent > 2^63−1)
    MisalignedSlice,      // sub-byte dtype whose tensor does not fill whole bytes
    SizeMismatch,         // END − BEGIN ≠ bytes implied by shape × dtype
    IncompleteBuffer,     // data buffer longer or shorter than the last END (trailing/truncated)
    TensorNotFound,       // lookup of an absent name
    WrongDType,           // read_* of a tensor whose dtype that reader does not convert
    Io,                   // the operating system refused (open, map, write, rename)
  };

  SafetensorsError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// "InvalidOffset" etc., for messages and test names.
std::string_view kind_name(SafetensorsError::Kind kind);

// A validated safetensors file. open() memory-maps the file read-only: the file must not be
// truncated by another process while it is open (the OS would signal SIGBUS on access).
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  // Same validation on an in-memory copy (for tests and fuzzing); messages name no file.
  static SafetensorsFile from_bytes(std::vector<std::uint8_t> bytes);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();  // unmaps

  bool contains(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted
  const TensorInfo& info(std::string_view name) const;  // TensorNotFound
  const std::map<std::string, std::string>& metadata() const;

  // F32, or F16 / BF16 / F64 converted to float (round to nearest even; F64 beyond the float
  // range becomes ±inf; NaN stays NaN).
  Tensor<float> read_f32(std::string_view name) const;
  // BOOL; any nonzero byte reads as 1.
  BoolTensor read_bool(std::string_view name) const;
  // I64.
  Tensor<std::int64_t> read_i64(std::string_view name) const;

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Collects tensors (copied at add(), so the views may die afterwards) and serializes them the way
// the reference writer does: tensors ordered by descending dtype enum order then name, offsets
// contiguous from 0, "__metadata__" first, header padded with spaces to a multiple of 8.
// Argument errors: an empty name, a name "__metadata__" or a non-UTF-8 string throws mha::Error;
// a name added twice throws SafetensorsError(DuplicateName).
class SafetensorsWriter {
 public:
  void add(std::string name, TensorView<const float> t);         // F32
  void add(std::string name, TensorView<const std::uint8_t> t);  // BOOL (stored as 0/1 bytes)
  void add(std::string name, TensorView<const std::int64_t> t);  // I64
  // Sets (or replaces) one metadata entry.
  void set_metadata(std::string key, std::string value);

  // The whole file. Throws SafetensorsError(HeaderTooLarge) past the reader's header limit.
  std::vector<std::uint8_t> bytes() const;
  // Writes to a temporary file in the destination's directory, flushes it and renames it over
  // `path`, so a reader never sees a half-written file. Throws SafetensorsError(Io).
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    DType dtype;
    Shape shape;
    std::vector<std::uint8_t> data;  // row-major, little-endian
  };
  struct Layout;  // the padded JSON header and the tensors in file order
  void add_entry(std::string name, Entry entry);
  Layout layout() const;

  std::map<std::string, Entry, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace mha
