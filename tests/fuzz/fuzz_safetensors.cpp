// libFuzzer target: arbitrary bytes as a safetensors file. SafetensorsFile::from_bytes must either
// throw mha::Error or return a file whose every tensor can be read back the way the checkpoint
// loaders do (names(), info(), then the reader for its dtype); a validated tensor must read back
// without any error but WrongDType. Seeds: tests/fuzz/corpus/safetensors/.
//
// Most mutations (an inserted or erased byte) change the header's length, so a raw input almost
// always fails at the 8-byte length prefix. Each input is therefore tried twice: as it is, and
// with the prefix rewritten to span the top-level JSON object, so the fuzzer spends its time in
// the JSON header and per-tensor checks too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/io/safetensors.hpp"

namespace {

constexpr std::size_t kPrefixBytes = 8;

// Reads every tensor of a validated file and checks what validation promises: tensors tile the
// data buffer, and each reader returns exactly the elements the shape names.
void read_everything(const mha::SafetensorsFile& file, std::size_t file_size) {
  std::uint64_t covered = 0;
  for (const std::string& name : file.names()) {
    if (!file.contains(name)) __builtin_trap();
    const mha::TensorInfo& info = file.info(name);
    if (info.end < info.begin || info.end > file_size) __builtin_trap();
    covered += info.end - info.begin;
    // A validated tensor must be readable: no error but WrongDType may come out of here.
    try {
      const mha::Index elements = mha::numel_of(info.shape);
      switch (info.dtype) {
        case mha::DType::F32:
        case mha::DType::F16:
        case mha::DType::BF16:
        case mha::DType::F64:
          if (file.read_f32(name).numel() != elements) __builtin_trap();
          break;
        case mha::DType::BOOL:
          if (file.read_bool(name).numel() != elements) __builtin_trap();
          break;
        case mha::DType::I64:
          if (file.read_i64(name).numel() != elements) __builtin_trap();
          break;
        default:  // no reader converts this dtype: WrongDType is the only acceptable answer
          (void)file.read_f32(name);
          __builtin_trap();
      }
    } catch (const mha::SafetensorsError& e) {
      if (e.kind() != mha::SafetensorsError::Kind::WrongDType) __builtin_trap();
    } catch (const mha::Error&) {
      __builtin_trap();
    }
  }
  if (covered > file_size) __builtin_trap();
  for (const auto& [key, value] : file.metadata()) (void)(key.size() + value.size());
  try {
    (void)file.info("\x01 not a tensor name");
    __builtin_trap();
  } catch (const mha::SafetensorsError& e) {
    if (e.kind() != mha::SafetensorsError::Kind::TensorNotFound) __builtin_trap();
  }
}

void try_file(std::vector<std::uint8_t> bytes) {
  const std::size_t size = bytes.size();
  try {
    const mha::SafetensorsFile file = mha::SafetensorsFile::from_bytes(std::move(bytes));
    read_everything(file, size);
  } catch (const mha::Error&) {
    // Rejected input: the only outcome besides success that is not a finding.
  }
}

// The length of the header that ends with the top-level JSON object starting at byte 8 (plus the
// spaces the writer pads with), or nullopt if there is no such object. Braces inside strings do
// not count.
std::optional<std::uint64_t> object_header_length(std::span<const std::uint8_t> file) {
  if (file.size() <= kPrefixBytes || file[kPrefixBytes] != '{') return std::nullopt;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = kPrefixBytes; i < file.size(); ++i) {
    const std::uint8_t c = file[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      std::size_t end = i + 1;
      while (end < file.size() && file[end] == ' ') ++end;
      return end - kPrefixBytes;
    }
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  try_file(std::vector<std::uint8_t>(input.begin(), input.end()));

  const std::optional<std::uint64_t> length = object_header_length(input);
  std::uint64_t prefix = 0;
  if (size >= kPrefixBytes) std::memcpy(&prefix, data, sizeof prefix);
  if (length && *length != prefix) {
    std::vector<std::uint8_t> repaired(input.begin(), input.end());
    std::memcpy(repaired.data(), &*length, sizeof *length);  // little-endian, like the format
    try_file(std::move(repaired));
  }
  return 0;
}
