// SafetensorsFile: a validated file image (mapped or owned) and typed reads out of it.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "io/float_conversion.hpp"
#include "io/mapped_file.hpp"
#include "io/safetensors_error.hpp"
#include "io/validate.hpp"
#include "mha/io/safetensors.hpp"

namespace mha {

struct SafetensorsFile::Impl {
  std::string source;               // the path, or empty for from_bytes
  MappedFile mapping;               // set by open()
  std::vector<std::uint8_t> owned;  // set by from_bytes()
  std::span<const std::uint8_t> data_buffer;
  std::map<std::string, TensorInfo, std::less<>> tensors;
  std::map<std::string, std::string> metadata;

  void validate(std::span<const std::uint8_t> file) {
    ValidatedFile v = validate_safetensors(file, source);
    data_buffer = file.subspan(static_cast<std::size_t>(v.data_start));
    tensors = std::move(v.tensors);
    metadata = std::move(v.metadata);
  }

  const TensorInfo& find(std::string_view name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end())
      fail(SafetensorsError::Kind::TensorNotFound, source, "tensor " + single_quoted(name) + " not found");
    return it->second;
  }

  // The tensor's bytes, after checking its dtype is one of `accepted` (spelled `expected`).
  std::span<const std::uint8_t> bytes_of(std::string_view name, const TensorInfo& info,
                                         std::initializer_list<DType> accepted,
                                         std::string_view expected) const {
    if (std::find(accepted.begin(), accepted.end(), info.dtype) == accepted.end())
      fail(SafetensorsError::Kind::WrongDType, source,
           "tensor " + single_quoted(name) + ": expected dtype " + std::string(expected) + ", got " +
               std::string(dtype_name(info.dtype)));
    // In range: validation made the tensors tile exactly [0, data_buffer.size()).
    return data_buffer.subspan(static_cast<std::size_t>(info.begin),
                               static_cast<std::size_t>(info.end - info.begin));
  }
};

namespace {

// Element i of a little-endian array of T in `bytes`, loaded with memcpy: the mapping promises
// no alignment, so a typed load through a cast pointer could be misaligned (UB).
template <class T>
T load(std::span<const std::uint8_t> bytes, std::size_t i) {
  T value;
  std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
  return value;
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->source = path.string();
  impl->mapping = MappedFile::open(path);
  impl->validate(impl->mapping.bytes());
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<std::uint8_t> bytes) {
  auto impl = std::make_unique<Impl>();
  impl->owned = std::move(bytes);
  impl->validate(impl->owned);
  return SafetensorsFile(std::move(impl));
}

bool SafetensorsFile::contains(std::string_view name) const {
  return impl_->tensors.find(name) != impl_->tensors.end();
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const auto& item : impl_->tensors) out.push_back(item.first);  // std::map: already sorted
  return out;
}

const TensorInfo& SafetensorsFile::info(std::string_view name) const { return impl_->find(name); }

const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

Tensor<float> SafetensorsFile::read_f32(std::string_view name) const {
  const TensorInfo& info = impl_->find(name);
  const auto bytes = impl_->bytes_of(name, info, {DType::F32, DType::F16, DType::BF16, DType::F64},
                                     "F32, F16, BF16 or F64");
  Tensor<float> out(info.shape);
  const std::span<float> values = out.values();
  switch (info.dtype) {
    case DType::F32:
      if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
      break;
    case DType::F16:
      for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = f16_to_float(load<std::uint16_t>(bytes, i));
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = bf16_to_float(load<std::uint16_t>(bytes, i));
      break;
    case DType::F64:  // IEEE rounding to nearest; beyond the float range gives ±inf
      for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = static_cast<float>(load<double>(bytes, i));
      break;
    default:
      throw InternalError("read_f32: bytes_of accepted dtype " + std::string(dtype_name(info.dtype)));
  }
  return out;
}

BoolTensor SafetensorsFile::read_bool(std::string_view name) const {
  const TensorInfo& info = impl_->find(name);
  const auto bytes = impl_->bytes_of(name, info, {DType::BOOL}, "BOOL");
  BoolTensor out(info.shape);
  const std::span<std::uint8_t> values = out.values();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = bytes[i] != 0 ? 1 : 0;
  return out;
}

Tensor<std::int64_t> SafetensorsFile::read_i64(std::string_view name) const {
  const TensorInfo& info = impl_->find(name);
  const auto bytes = impl_->bytes_of(name, info, {DType::I64}, "I64");
  Tensor<std::int64_t> out(info.shape);
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace mha
