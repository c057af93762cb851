#include "io/header_parser.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "io/safetensors_error.hpp"

namespace mha {
namespace {

using Kind = SafetensorsError::Kind;
using json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

// Where the next SAX event lands in the only shape a header may have:
//   { "__metadata__": { key: "value", ... }, name: { "dtype": "F32", "shape": [..],
//     "data_offsets": [BEGIN, END] }, ... }
enum class State {
  BeforeHeader,       // expecting the top-level object
  HeaderKeys,         // inside it: a tensor name, "__metadata__", or its end
  TensorValue,        // after a tensor name: its object
  TensorFields,       // inside a tensor object: a field name or its end
  DtypeValue,         // after "dtype": a string
  ShapeValue,         // after "shape": an array
  ShapeItems,         // inside "shape": non-negative integers
  OffsetsValue,       // after "data_offsets": an array
  OffsetsItems,       // inside "data_offsets": exactly 2 non-negative integers
  MetadataValue,      // after "__metadata__": an object
  MetadataKeys,       // inside it: a key or its end
  MetadataItemValue,  // after a metadata key: a string
  AfterHeader,        // the top-level object is closed; only whitespace may follow
};

// The SAX interface of nlohmann::json (json::sax_parse). Every handler either advances the
// state or throws; returning false is never needed.
class HeaderBuilder {
 public:
  HeaderBuilder(std::uint64_t header_offset, std::string_view source)
      : header_offset_(header_offset), source_(source) {}

  RawHeader take() { return std::move(header_); }

  bool null() { unexpected("null"); }
  bool boolean(bool value) { unexpected(value ? "true" : "false"); }
  bool number_integer(json::number_integer_t value) { unexpected(std::to_string(value)); }
  bool number_float(json::number_float_t, const json::string_t& text) { unexpected(text); }
  bool binary(json::binary_t&) { unexpected("binary data"); }

  bool number_unsigned(json::number_unsigned_t value) {
    if (state_ == State::ShapeItems) {
      entry_.shape.push_back(value);
    } else if (state_ == State::OffsetsItems) {
      if (offsets_seen_ == 2) unexpected("a third element");
      (offsets_seen_++ == 0 ? entry_.begin : entry_.end) = value;
    } else {
      unexpected(std::to_string(value));
    }
    return true;
  }

  bool string(json::string_t& value) {
    if (state_ == State::DtypeValue) {
      const std::optional<DType> dtype = parse_dtype(value);
      if (!dtype)
        fail(Kind::UnknownDType, source_,
             "tensor " + single_quoted(name_) + ": unknown dtype " + single_quoted(value));
      entry_.dtype = *dtype;
      state_ = State::TensorFields;
    } else if (state_ == State::MetadataItemValue) {
      header_.metadata.emplace(std::move(key_), std::move(value));
      state_ = State::MetadataKeys;
    } else {
      unexpected("a string");
    }
    return true;
  }

  bool start_object(std::size_t) {
    if (state_ == State::BeforeHeader) {
      state_ = State::HeaderKeys;
    } else if (state_ == State::TensorValue) {
      entry_ = {};
      offsets_seen_ = 0;
      has_dtype_ = has_shape_ = has_offsets_ = false;
      state_ = State::TensorFields;
    } else if (state_ == State::MetadataValue) {
      state_ = State::MetadataKeys;
    } else {
      unexpected("an object");
    }
    return true;
  }

  bool key(json::string_t& key) {
    if (state_ == State::HeaderKeys) {
      header_key(std::move(key));
    } else if (state_ == State::TensorFields) {
      tensor_field(key);
    } else if (state_ == State::MetadataKeys) {
      if (header_.metadata.contains(key))
        fail(Kind::DuplicateName, source_, "__metadata__: duplicate key " + single_quoted(key));
      key_ = std::move(key);
      state_ = State::MetadataItemValue;
    } else {
      throw InternalError("safetensors header: the JSON parser produced a key outside an object");
    }
    return true;
  }

  bool end_object() {
    if (state_ == State::HeaderKeys) {
      state_ = State::AfterHeader;
    } else if (state_ == State::TensorFields) {
      for (const auto& [present, field] : {std::pair{has_dtype_, "dtype"},
                                          std::pair{has_shape_, "shape"},
                                          std::pair{has_offsets_, "data_offsets"}})
        if (!present)
          fail(Kind::InvalidJson, source_,
               "tensor " + single_quoted(name_) + ": missing field " + single_quoted(field));
      header_.tensors.emplace(std::move(name_), std::move(entry_));
      state_ = State::HeaderKeys;
    } else {
      MHA_CHECK(state_ == State::MetadataKeys);
      state_ = State::HeaderKeys;
    }
    return true;
  }

  bool start_array(std::size_t) {
    if (state_ == State::ShapeValue) {
      state_ = State::ShapeItems;
    } else if (state_ == State::OffsetsValue) {
      state_ = State::OffsetsItems;
    } else {
      unexpected("an array");
    }
    return true;
  }

  bool end_array() {
    if (state_ == State::OffsetsItems && offsets_seen_ != 2)
      unexpected(std::to_string(offsets_seen_) + " element(s)");
    MHA_CHECK(state_ == State::ShapeItems || state_ == State::OffsetsItems);
    state_ = State::TensorFields;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    fail(Kind::InvalidJson, source_,
         "header: invalid JSON at file offset " + std::to_string(header_offset_ + position) +
             ": " + e.what());
  }

 private:
  void header_key(std::string key) {
    if (key == kMetadataKey) {
      if (has_metadata_) fail(Kind::DuplicateName, source_, "header: duplicate key '__metadata__'");
      has_metadata_ = true;
      state_ = State::MetadataValue;
      return;
    }
    if (header_.tensors.contains(key))
      fail(Kind::DuplicateName, source_, "header: duplicate tensor name " + single_quoted(key));
    name_ = std::move(key);
    state_ = State::TensorValue;
  }

  void tensor_field(const std::string& field) {
    bool* seen = nullptr;
    if (field == "dtype") {
      seen = &has_dtype_;
      state_ = State::DtypeValue;
    } else if (field == "shape") {
      seen = &has_shape_;
      state_ = State::ShapeValue;
    } else if (field == "data_offsets") {
      seen = &has_offsets_;
      state_ = State::OffsetsValue;
    } else {
      fail(Kind::InvalidJson, source_,
           "tensor " + single_quoted(name_) + ": unknown field " + single_quoted(field) +
               " (allowed: dtype, shape, data_offsets)");
    }
    if (*seen)
      fail(Kind::DuplicateName, source_,
           "tensor " + single_quoted(name_) + ": duplicate field " + single_quoted(field));
    *seen = true;
  }

  // The value `found` cannot stand where the state says we are.
  [[noreturn]] void unexpected(const std::string& found) const {
    const std::string tensor = "tensor " + single_quoted(name_) + ": ";
    switch (state_) {
      case State::BeforeHeader:
        fail(Kind::InvalidJson, source_, "header: expected a JSON object, got " + found);
      case State::TensorValue:
        fail(Kind::InvalidJson, source_, tensor + "expected an object, got " + found);
      case State::DtypeValue:
        fail(Kind::InvalidJson, source_, tensor + "dtype: expected a string, got " + found);
      case State::ShapeValue:
      case State::ShapeItems:
        fail(Kind::InvalidJson, source_,
             tensor + "shape: expected an array of non-negative integers, got " + found);
      case State::OffsetsValue:
      case State::OffsetsItems:
        fail(Kind::InvalidJson, source_,
             tensor + "data_offsets: expected 2 non-negative integers, got " + found);
      case State::MetadataValue:
        fail(Kind::InvalidMetadata, source_,
             "__metadata__: expected an object of string values, got " + found);
      case State::MetadataItemValue:
        fail(Kind::InvalidMetadata, source_,
             "__metadata__: key " + single_quoted(key_) + ": expected a string value, got " + found);
      case State::HeaderKeys:
      case State::TensorFields:
      case State::MetadataKeys:
      case State::AfterHeader:
        break;
    }
    throw InternalError("safetensors header: the JSON parser produced a value where only a key "
                        "can stand");
  }

  std::uint64_t header_offset_;
  std::string_view source_;
  RawHeader header_;
  State state_ = State::BeforeHeader;
  std::string name_;  // tensor being parsed
  std::string key_;   // metadata key whose value comes next
  RawTensorEntry entry_;
  int offsets_seen_ = 0;
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false, has_metadata_ = false;
};

}  // namespace

RawHeader parse_header(std::span<const std::uint8_t> json_bytes, std::uint64_t header_offset,
                       std::string_view source) {
  // nlohmann skips a leading UTF-8 byte order mark; the reference (serde_json) does not.
  constexpr std::uint8_t kBom[] = {0xEF, 0xBB, 0xBF};
  if (json_bytes.size() >= 3 && std::equal(kBom, kBom + 3, json_bytes.begin()))
    fail(Kind::InvalidJson, source,
         "header: a UTF-8 byte order mark at file offset " + std::to_string(header_offset) +
             " is not JSON");
  HeaderBuilder builder(header_offset, source);
  // strict = true: only whitespace may follow the object. Comments stay disallowed.
  const bool complete = json::sax_parse(json_bytes.data(), json_bytes.data() + json_bytes.size(),
                                        &builder, nlohmann::json::input_format_t::json, true);
  MHA_CHECK(complete);  // every handler throws instead of returning false
  return builder.take();
}

}  // namespace mha
