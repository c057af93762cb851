// SafetensorsWriter: the reference writer's layout (formats.md §1.3) and an atomic file write.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "io/safetensors_error.hpp"
#include "io/utf8.hpp"
#include "mha/io/atomic_file.hpp"
#include "mha/io/safetensors.hpp"

namespace mha {

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; the writer copies bytes without swapping");

struct SafetensorsWriter::Layout {
  std::string header;  // JSON padded with spaces to a multiple of 8
  std::vector<const std::pair<const std::string, Entry>*> order;
};

namespace {

using Kind = SafetensorsError::Kind;

void check_utf8(const std::string& text, const std::string& what) {
  if (!is_valid_utf8(text)) throw_invalid(what, "valid UTF-8", "invalid bytes");
}

// The view's elements in row-major order as little-endian bytes; BOOL is normalised to 0/1.
template <class T>
std::vector<std::uint8_t> row_major_bytes(const std::string& name, const TensorView<const T>& t) {
  const Index count = t.numel();
  if (count > 0 && !t.defined())
    throw_invalid(name, "a view with data for " + std::to_string(count) + " elements",
                  "a null data pointer");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(count) * sizeof(T));
  std::size_t i = 0;
  Tensor<T>::for_each_index(t.shape(), [&](std::span<const Index> index) {
    Index offset = 0;
    for (std::size_t d = 0; d < index.size(); ++d) offset += index[d] * t.strides()[d];
    T value = t.data()[offset];
    if constexpr (std::is_same_v<T, std::uint8_t>) value = value != 0 ? 1 : 0;
    std::memcpy(bytes.data() + i * sizeof(T), &value, sizeof(T));
    ++i;
  });
  return bytes;
}

void little_endian_u64(std::uint64_t value, std::uint8_t* out) { std::memcpy(out, &value, 8); }

}  // namespace

void SafetensorsWriter::add(std::string name, TensorView<const float> t) {
  std::vector<std::uint8_t> data = row_major_bytes(name, t);
  add_entry(std::move(name), {DType::F32, t.shape(), std::move(data)});
}

void SafetensorsWriter::add(std::string name, TensorView<const std::uint8_t> t) {
  std::vector<std::uint8_t> data = row_major_bytes(name, t);
  add_entry(std::move(name), {DType::BOOL, t.shape(), std::move(data)});
}

void SafetensorsWriter::add(std::string name, TensorView<const std::int64_t> t) {
  std::vector<std::uint8_t> data = row_major_bytes(name, t);
  add_entry(std::move(name), {DType::I64, t.shape(), std::move(data)});
}

void SafetensorsWriter::add_entry(std::string name, Entry entry) {
  if (name.empty()) throw_invalid("tensor name", "a non-empty name", "''");
  if (name == "__metadata__")
    throw_invalid("tensor name", "a name other than the reserved '__metadata__'", "'__metadata__'");
  check_utf8(name, "tensor name");
  if (tensors_.contains(name))
    throw SafetensorsError(Kind::DuplicateName, "tensor " + single_quoted(name) + " added twice");
  tensors_.emplace(std::move(name), std::move(entry));
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  check_utf8(key, "metadata key");
  check_utf8(value, "metadata value of " + single_quoted(key));
  metadata_.insert_or_assign(std::move(key), std::move(value));
}

SafetensorsWriter::Layout SafetensorsWriter::layout() const {
  Layout layout;
  for (const auto& item : tensors_) layout.order.push_back(&item);
  // Descending dtype enum order (= descending alignment), then name: every tensor then starts
  // at a multiple of its element size, because the data buffer starts 8-aligned.
  std::stable_sort(layout.order.begin(), layout.order.end(), [](const auto* a, const auto* b) {
    return a->second.dtype > b->second.dtype;  // stable: names stay ascending (std::map order)
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t offset = 0;
  for (const auto* item : layout.order) {
    const Entry& e = item->second;
    const std::uint64_t end = offset + e.data.size();
    header[item->first] = {{"dtype", dtype_name(e.dtype)},
                           {"shape", e.shape},
                           {"data_offsets", nlohmann::ordered_json::array({offset, end})}};
    offset = end;
  }
  layout.header = header.dump();
  // Pad with spaces so the data buffer starts at a multiple of 8 (8 + N ≡ 0 mod 8).
  layout.header.resize((layout.header.size() + 7) / 8 * 8, ' ');
  if (layout.header.size() > kMaxHeaderBytes)
    throw SafetensorsError(Kind::HeaderTooLarge,
                           "header of " + std::to_string(layout.header.size()) +
                               " bytes exceeds the limit of " + std::to_string(kMaxHeaderBytes));
  return layout;
}

std::vector<std::uint8_t> SafetensorsWriter::bytes() const {
  const Layout l = layout();
  std::size_t total = kLengthPrefixBytes + l.header.size();
  for (const auto* item : l.order) total += item->second.data.size();
  std::vector<std::uint8_t> out(total);
  little_endian_u64(l.header.size(), out.data());
  std::memcpy(out.data() + kLengthPrefixBytes, l.header.data(), l.header.size());
  std::size_t at = kLengthPrefixBytes + l.header.size();
  for (const auto* item : l.order) {
    const auto& data = item->second.data;
    if (!data.empty()) std::memcpy(out.data() + at, data.data(), data.size());
    at += data.size();
  }
  return out;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  const Layout l = layout();
  std::uint8_t length[kLengthPrefixBytes];
  little_endian_u64(l.header.size(), length);
  std::vector<std::span<const std::uint8_t>> pieces = {
      {length, sizeof length}, {reinterpret_cast<const std::uint8_t*>(l.header.data()), l.header.size()}};
  for (const auto* item : l.order) pieces.emplace_back(item->second.data);
  if (const std::optional<std::string> failure = write_file_atomically(path, pieces))
    fail(Kind::Io, path.string(), *failure);
}

}  // namespace mha
