// One malformed image per SafetensorsError kind (and per rule inside a kind), built by hand, plus
// the order of the checks (formats.md §1.4).
#include <algorithm>
#include <cstring>
#include <string>

#include "io/safetensors_test_bytes.hpp"

namespace mha {
namespace {

using testing::Bytes;
using testing::file_bytes;
using testing::file_bytes_with_length;
using testing::rejects;
using Kind = SafetensorsError::Kind;

// A single-tensor header {"x": {entry}}; the default entry is 2 F32 elements in 8 data bytes.
std::string one_tensor(std::string_view entry = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])") {
  return R"({"x":{)" + std::string(entry) + "}}";
}
const Bytes kEightBytes(8, 0);

TEST(SafetensorsErrors, HeaderTooSmall) {
  EXPECT_TRUE(rejects({}, Kind::HeaderTooSmall, "0 bytes"));
  EXPECT_TRUE(rejects(Bytes(7, 0), Kind::HeaderTooSmall, "7 bytes"));
}

TEST(SafetensorsErrors, HeaderTooLargeComesBeforeTheLengthCheck) {
  EXPECT_TRUE(rejects(file_bytes_with_length(100'000'001, ""), Kind::HeaderTooLarge, "100000001"));
  EXPECT_TRUE(rejects(file_bytes_with_length(~std::uint64_t{0}, ""), Kind::HeaderTooLarge));
  // Exactly the limit is allowed, so the short file fails the next step instead.
  EXPECT_TRUE(rejects(file_bytes_with_length(100'000'000, "{}"), Kind::InvalidHeaderLength));
}

TEST(SafetensorsErrors, InvalidHeaderLength) {
  EXPECT_TRUE(rejects(file_bytes_with_length(10, "{}   "), Kind::InvalidHeaderLength,
                      "header length 10 runs past the end of the file (13 bytes)"));
}

TEST(SafetensorsErrors, InvalidUtf8NamesTheOffset) {
  EXPECT_TRUE(rejects(file_bytes("{\"\xFF\":1}"), Kind::InvalidUtf8, "file offset 10"));
  EXPECT_TRUE(rejects(file_bytes("{\"\xC0\xAF\":1}"), Kind::InvalidUtf8));      // overlong '/'
  EXPECT_TRUE(rejects(file_bytes("{\"\xED\xA0\x80\":1}"), Kind::InvalidUtf8));  // surrogate
  EXPECT_TRUE(rejects(file_bytes("{\"\xF4\x90\x80\x80\":1}"), Kind::InvalidUtf8));  // > U+10FFFF
  EXPECT_TRUE(rejects(file_bytes("{\"\xE2\x82"), Kind::InvalidUtf8));  // cut mid-sequence
}

TEST(SafetensorsErrors, InvalidJsonSyntax) {
  EXPECT_TRUE(rejects(file_bytes(""), Kind::InvalidJson, "file offset"));
  EXPECT_TRUE(rejects(file_bytes("{"), Kind::InvalidJson));
  EXPECT_TRUE(rejects(file_bytes("{} x"), Kind::InvalidJson));      // trailing non-whitespace
  EXPECT_TRUE(rejects(file_bytes("{}\x0C"), Kind::InvalidJson));    // form feed is not JSON space
  EXPECT_TRUE(rejects(file_bytes("{} // c"), Kind::InvalidJson));   // no comments
  EXPECT_TRUE(rejects(file_bytes("\xEF\xBB\xBF{}"), Kind::InvalidJson, "byte order mark"));
}

TEST(SafetensorsErrors, InvalidJsonStructure) {
  EXPECT_TRUE(rejects(file_bytes("[]"), Kind::InvalidJson, "expected a JSON object, got an array"));
  EXPECT_TRUE(rejects(file_bytes(R"({"x":[]})"), Kind::InvalidJson,
                      "tensor 'x': expected an object, got an array"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":7,"shape":[2],"data_offsets":[0,8])")),
                      Kind::InvalidJson, "dtype: expected a string, got 7"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])")),
                      Kind::InvalidJson, "shape: expected an array of non-negative integers, got -2"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[[2]],"data_offsets":[0,8])")),
                      Kind::InvalidJson, "got an array"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":2,"data_offsets":[0,8])")),
                      Kind::InvalidJson, "shape"));
}

TEST(SafetensorsErrors, DataOffsetsAreTwoNonNegativeIntegers) {
  for (const char* offsets : {"[0,-8]", "[0,8.0]", "[0,8,8]", "[0]", "[]", "8", "[0,1e1]",
                              "[0,18446744073709551616]", "[-0,8]", "[0,\"8\"]", "[0,null]"}) {
    SCOPED_TRACE(offsets);
    const std::string entry = std::string(R"("dtype":"F32","shape":[2],"data_offsets":)") + offsets;
    EXPECT_TRUE(rejects(file_bytes(one_tensor(entry), kEightBytes), Kind::InvalidJson,
                        "tensor 'x': data_offsets: expected 2 non-negative integers"));
  }
}

TEST(SafetensorsErrors, TensorFieldsAreExactlyDtypeShapeDataOffsets) {
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[2])"), kEightBytes),
                      Kind::InvalidJson, "tensor 'x': missing field 'data_offsets'"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","data_offsets":[0,8])"), kEightBytes),
                      Kind::InvalidJson, "missing field 'shape'"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("shape":[2],"data_offsets":[0,8])"), kEightBytes),
                      Kind::InvalidJson, "missing field 'dtype'"));
  EXPECT_TRUE(rejects(
      file_bytes(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1])"),
                 kEightBytes),
      Kind::InvalidJson, "unknown field 'strides'"));
}

TEST(SafetensorsErrors, UnknownDType) {
  for (const char* dtype : {"F128", "f32", "", "FLOAT"}) {
    SCOPED_TRACE(dtype);
    const std::string entry = std::string(R"("dtype":")") + dtype + R"(","shape":[2],"data_offsets":[0,8])";
    EXPECT_TRUE(rejects(file_bytes(one_tensor(entry), kEightBytes), Kind::UnknownDType,
                        "tensor 'x': unknown dtype"));
  }
}

TEST(SafetensorsErrors, DuplicateKeysAnywhere) {
  const std::string x = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  // Identical duplicates would collapse silently in a map-based parser.
  EXPECT_TRUE(rejects(file_bytes("{" + x + "," + x + "}", kEightBytes), Kind::DuplicateName,
                      "duplicate tensor name 'x'"));
  // A different second entry: the reference reports a misleading InvalidOffset.
  EXPECT_TRUE(rejects(
      file_bytes("{" + x + R"(,"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 Bytes(16, 0)),
      Kind::DuplicateName));
  EXPECT_TRUE(rejects(file_bytes(R"({"__metadata__":{},"__metadata__":{}})"), Kind::DuplicateName,
                      "'__metadata__'"));
  EXPECT_TRUE(rejects(file_bytes(R"({"__metadata__":{"a":"1","a":"1"}})"), Kind::DuplicateName,
                      "__metadata__: duplicate key 'a'"));
  EXPECT_TRUE(rejects(
      file_bytes(one_tensor(R"("dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8])"),
                 kEightBytes),
      Kind::DuplicateName, "tensor 'x': duplicate field 'dtype'"));
}

TEST(SafetensorsErrors, MetadataIsStringToString) {
  for (const char* metadata : {"1", "null", "\"a\"", "[]", R"({"a":1})", R"({"a":null})",
                               R"({"a":{"b":"c"}})", R"({"a":["b"]})", R"({"a":true})"}) {
    SCOPED_TRACE(metadata);
    EXPECT_TRUE(rejects(file_bytes(std::string(R"({"__metadata__":)") + metadata + "}"),
                        Kind::InvalidMetadata, "__metadata__"));
  }
}

TEST(SafetensorsErrors, InvalidOffsetNamesTheTensor) {
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[4,12])"),
                                 Bytes(12, 0)),
                      Kind::InvalidOffset, "tensor 'x': data_offsets [4, 12] leave a gap"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"),
                                 kEightBytes),
                      Kind::InvalidOffset, "end before they begin"));
  // Two tensors on the same bytes (the allocation blow-up attack).
  EXPECT_TRUE(rejects(
      file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 kEightBytes),
      Kind::InvalidOffset, "tensor 'b': data_offsets [0, 8] overlap the previous tensor"));
}

TEST(SafetensorsErrors, Overflow) {
  // 2^32 · 2^32 elements overflow 64 bits.
  EXPECT_TRUE(rejects(file_bytes(one_tensor(
                          R"("dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8])")),
                      Kind::Overflow, "elements"));
  // 2^61 elements fit, 2^61 · 64 bits do not.
  EXPECT_TRUE(rejects(
      file_bytes(one_tensor(R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8])")),
      Kind::Overflow, "bits"));
  // Zero elements, but an extent mha::Shape cannot hold.
  EXPECT_TRUE(rejects(
      file_bytes(one_tensor(R"("dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0])")),
      Kind::Overflow, "2^63 - 1"));
}

TEST(SafetensorsErrors, MisalignedSlice) {
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F4","shape":[3],"data_offsets":[0,2])"),
                                 Bytes(2, 0)),
                      Kind::MisalignedSlice, "12 bits"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F6_E3M2","shape":[2],"data_offsets":[0,2])"),
                                 Bytes(2, 0)),
                      Kind::MisalignedSlice));
}

TEST(SafetensorsErrors, SizeMismatch) {
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,4])"),
                                 Bytes(4, 0)),
                      Kind::SizeMismatch, "hold 4 bytes, but shape [2] of F32 needs 8"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[],"data_offsets":[0,0])")),
                      Kind::SizeMismatch, "needs 4"));
}

TEST(SafetensorsErrors, IncompleteBuffer) {
  EXPECT_TRUE(rejects(file_bytes(one_tensor(), Bytes(9, 0)), Kind::IncompleteBuffer,
                      "has 9 bytes, but the tensors cover 8 (trailing bytes)"));
  EXPECT_TRUE(rejects(file_bytes(one_tensor(), Bytes(7, 0)), Kind::IncompleteBuffer,
                      "(file truncated)"));
  EXPECT_TRUE(rejects(file_bytes("{}", Bytes(1, 0)), Kind::IncompleteBuffer));
}

TEST(SafetensorsErrors, ChecksRunInTheReferenceOrder) {
  // UTF-8 (4) before JSON (5): the header is neither.
  EXPECT_TRUE(rejects(file_bytes("\xFF not json"), Kind::InvalidUtf8));
  // Offsets (6) before size (9) within a tensor.
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[3],"data_offsets":[4,8])"),
                                 kEightBytes),
                      Kind::InvalidOffset));
  // Per tensor in offset order: b (at 0) has the wrong size before a (at 8) has a gap.
  EXPECT_TRUE(rejects(
      file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[9,13]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})",
                 Bytes(13, 0)),
      Kind::SizeMismatch, "tensor 'b'"));
  // Buffer coverage (10) last.
  EXPECT_TRUE(rejects(file_bytes(one_tensor(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])")),
                      Kind::SizeMismatch));
}

TEST(SafetensorsErrors, LookupAndDTypeErrors) {
  Bytes data;
  testing::append_le<std::int64_t>(data, {1});
  const SafetensorsFile file = SafetensorsFile::from_bytes(
      file_bytes(R"({"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", data));
  auto kind_of = [](auto&& call) {
    try {
      call();
    } catch (const SafetensorsError& e) {
      return std::pair(e.kind(), std::string(e.what()));
    }
    return std::pair(Kind::Io, std::string("no error"));
  };
  EXPECT_EQ(kind_of([&] { file.info("nope"); }),
            std::pair(Kind::TensorNotFound, std::string("tensor 'nope' not found")));
  EXPECT_EQ(kind_of([&] { file.read_i64("nope"); }).first, Kind::TensorNotFound);
  EXPECT_EQ(kind_of([&] { file.read_f32("i"); }),
            std::pair(Kind::WrongDType,
                      std::string("tensor 'i': expected dtype F32, F16, BF16 or F64, got I64")));
  EXPECT_EQ(kind_of([&] { file.read_bool("i"); }),
            std::pair(Kind::WrongDType, std::string("tensor 'i': expected dtype BOOL, got I64")));
}

TEST(SafetensorsErrors, LongNamesAreShortenedInMessages) {
  const std::string name(1000, 'n');
  EXPECT_TRUE(rejects(
      file_bytes(R"({")" + name + R"(":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 Bytes(12, 0)),
      Kind::InvalidOffset, "'" + name.substr(0, 200) + "...' (1000 bytes)"));
}

TEST(SafetensorsErrors, EveryTruncationIsATypedError) {
  SafetensorsWriter writer;
  const Tensor<float> w({2, 3}, {1, 2, 3, 4, 5, 6});
  writer.add("w", w.view());
  writer.set_metadata("format", "pt");
  const Bytes full = writer.bytes();
  for (std::size_t length = 0; length < full.size(); ++length) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(SafetensorsFile::from_bytes(cut), SafetensorsError) << "length " << length;
  }
}

// Every one-byte corruption ends in a typed error or a file whose tensors all read. Beyond "no
// other outcome": a changed data byte (after the header) is always accepted and read back as
// written, and a changed length prefix or opening brace is always rejected.
TEST(SafetensorsErrors, EverySingleByteCorruptionIsAcceptedOrATypedError) {
  SafetensorsWriter writer;
  const Tensor<float> w({2}, {1, 2});
  writer.add("w", w.view());
  writer.set_metadata("k", "v");
  const Bytes original = writer.bytes();
  std::size_t header_end = 8;  // the little-endian u64 prefix gives the header's length
  for (std::size_t i = 0; i < 8; ++i) header_end += std::size_t{original[i]} << (8 * i);
  ASSERT_EQ(original.size(), header_end + 8);  // 2 F32 values follow the header
  std::size_t accepted = 0, rejected = 0;
  for (std::size_t at = 0; at < original.size(); ++at)
    for (const int value : {0x00, 0x01, 0x22, 0x2C, 0x5B, 0x7B, 0x7D, 0x80, 0xFF}) {
      if (original[at] == value) continue;
      Bytes corrupt = original;
      corrupt[at] = static_cast<std::uint8_t>(value);
      SCOPED_TRACE("byte " + std::to_string(at) + " = " + std::to_string(value));
      try {
        const SafetensorsFile file = SafetensorsFile::from_bytes(corrupt);
        for (const std::string& name : file.names()) {
          (void)file.info(name);
          (void)file.read_f32(name);
        }
        ++accepted;
        EXPECT_GT(at, 8u) << "a changed length prefix was accepted";
        EXPECT_NE(at, 8u) << "a header without its opening brace was accepted";
        if (at >= header_end) {
          const Tensor<float> read = file.read_f32("w");
          Bytes data(8);
          std::memcpy(data.data(), read.data(), 8);
          EXPECT_TRUE(std::equal(data.begin(), data.end(), corrupt.begin() + static_cast<std::ptrdiff_t>(header_end)));
        }
      } catch (const SafetensorsError&) {
        // expected for most header corruptions (a changed dtype letter fails read_f32 with WrongDType)
        ++rejected;
        EXPECT_LT(at, header_end) << "a changed data byte was rejected";
      }
    }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, accepted);
}

}  // namespace
}  // namespace mha
