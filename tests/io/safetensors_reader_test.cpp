// Reading hand-made files: dtype conversions, unaligned data, whitespace, every dtype, files on
// disk (mmap path).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "io/safetensors_test_bytes.hpp"

namespace mha {
namespace {

using testing::append_le;
using testing::Bytes;
using testing::file_bytes;
using testing::rejects;
using Kind = SafetensorsError::Kind;

std::string entry(std::string_view name, std::string_view dtype, std::string_view shape,
                  std::uint64_t begin, std::uint64_t end) {
  return "\"" + std::string(name) + R"(":{"dtype":")" + std::string(dtype) + R"(","shape":)" +
         std::string(shape) + R"(,"data_offsets":[)" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

// A file image written to a fresh path under the test's temporary directory.
std::filesystem::path write_temp(const std::string& file_name, const Bytes& bytes) {
  const auto path = std::filesystem::path(::testing::TempDir()) / file_name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(SafetensorsReader, F16ConvertsExactly) {
  Bytes data;
  // 1, −2, 65504 (max), 2^−24 (smallest subnormal), 2^−14 (smallest normal), −0, +inf, −inf,
  // 0x3555 = 1 + 341/1024 times 2^−2.
  append_le<std::uint16_t>(data, {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00, 0xFC00,
                                  0x3555, 0x7E00});
  const auto file = SafetensorsFile::from_bytes(file_bytes("{" + entry("h", "F16", "[10]", 0, 20) + "}", data));
  const Tensor<float> h = file.read_f32("h");
  ASSERT_EQ(h.shape(), (Shape{10}));
  EXPECT_EQ(h(0), 1.0f);
  EXPECT_EQ(h(1), -2.0f);
  EXPECT_EQ(h(2), 65504.0f);
  EXPECT_EQ(h(3), std::ldexp(1.0f, -24));
  EXPECT_EQ(h(4), std::ldexp(1.0f, -14));
  EXPECT_EQ(h(5), 0.0f);
  EXPECT_TRUE(std::signbit(h(5)));
  EXPECT_EQ(h(6), std::numeric_limits<float>::infinity());
  EXPECT_EQ(h(7), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(h(8), (1.0f + 341.0f / 1024.0f) / 4.0f);
  EXPECT_TRUE(std::isnan(h(9)));
}

TEST(SafetensorsReader, BF16ConvertsExactly) {
  Bytes data;
  // 1, −3, +inf, the smallest subnormal 2^−133, NaN, 0x4049 = 3.140625.
  append_le<std::uint16_t>(data, {0x3F80, 0xC040, 0x7F80, 0x0001, 0x7FC0, 0x4049});
  const auto file = SafetensorsFile::from_bytes(file_bytes("{" + entry("b", "BF16", "[2,3]", 0, 12) + "}", data));
  const Tensor<float> b = file.read_f32("b");
  ASSERT_EQ(b.shape(), (Shape{2, 3}));
  EXPECT_EQ(b(0, 0), 1.0f);
  EXPECT_EQ(b(0, 1), -3.0f);
  EXPECT_EQ(b(0, 2), std::numeric_limits<float>::infinity());
  EXPECT_EQ(b(1, 0), std::ldexp(1.0f, -133));
  EXPECT_TRUE(std::isnan(b(1, 1)));
  EXPECT_EQ(b(1, 2), 3.140625f);
}

TEST(SafetensorsReader, F64RoundsToNearestFloat) {
  Bytes data;
  append_le<double>(data, {1.5, 0.1, -1e300, 1e-50, std::numeric_limits<double>::quiet_NaN()});
  const auto file = SafetensorsFile::from_bytes(file_bytes("{" + entry("d", "F64", "[5]", 0, 40) + "}", data));
  const Tensor<float> d = file.read_f32("d");
  EXPECT_EQ(d(0), 1.5f);
  EXPECT_EQ(d(1), 0.1f);
  EXPECT_EQ(d(2), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(d(3), 0.0f);
  EXPECT_TRUE(std::isnan(d(4)));
}

TEST(SafetensorsReader, ReadsUnalignedDataByCopying) {
  // The data buffer starts 8-aligned (header padded below) and a 1-byte BOOL comes first, so
  // every later element sits at an odd address. UBSan (the sanitizer build) would flag a typed load.
  Bytes data;
  append_le<float>(data, {1.25f, -2.5f});
  append_le<std::int64_t>(data, {-7, std::int64_t{1} << 40});
  append_le<std::uint16_t>(data, {0x3C00});
  std::string header = "{" + entry("f", "F32", "[2]", 1, 9) + "," + entry("i", "I64", "[2]", 9, 25) +
                             "," + entry("h", "F16", "[]", 25, 27) + "," + entry("b", "BOOL", "[1]", 0, 1) + "}" +
                             std::string(7, ' ');
  header.resize(header.size() / 8 * 8, ' ');
  Bytes buffer = {0x01};
  buffer.insert(buffer.end(), data.begin(), data.end());
  const auto file = SafetensorsFile::from_bytes(file_bytes(header, buffer));
  const Tensor<float> f = file.read_f32("f");
  EXPECT_EQ(f(0), 1.25f);
  EXPECT_EQ(f(1), -2.5f);
  const Tensor<std::int64_t> i = file.read_i64("i");
  EXPECT_EQ(i(0), -7);
  EXPECT_EQ(i(1), std::int64_t{1} << 40);
  EXPECT_EQ(file.read_f32("h").shape(), Shape{});
  EXPECT_EQ(file.read_f32("h").values()[0], 1.0f);
  EXPECT_EQ(file.read_bool("b")(0), 1);
}

TEST(SafetensorsReader, BoolReadsAnyNonzeroAsTrue) {
  const auto file = SafetensorsFile::from_bytes(
      file_bytes("{" + entry("m", "BOOL", "[4]", 0, 4) + "}", Bytes{0, 1, 2, 255}));
  const BoolTensor m = file.read_bool("m");
  EXPECT_EQ(std::vector<std::uint8_t>(m.values().begin(), m.values().end()),
            (std::vector<std::uint8_t>{0, 1, 1, 1}));
}

TEST(SafetensorsReader, AcceptsJsonWhitespaceAroundTheHeader) {
  const std::string body = "{" + entry("x", "F32", "[]", 0, 4) + "}";
  for (const char* pad : {" ", "\t", "\n", "\r", " \r\n\t  "}) {
    SCOPED_TRACE(::testing::PrintToString(pad));
    EXPECT_NO_THROW(SafetensorsFile::from_bytes(file_bytes(pad + body + pad, Bytes(4, 0))));
  }
}

TEST(SafetensorsReader, NamesMetadataAndInfo) {
  const std::string header = R"({"__metadata__":{"format":"pt","note":"\u00e9"},)" +
                             entry("z", "F32", "[0,3]", 0, 0) + "," + entry("a", "U8", "[2]", 0, 2) +
                             "," + entry("", "I8", "[]", 2, 3) + "}";
  const auto file = SafetensorsFile::from_bytes(file_bytes(header, Bytes(3, 0)));
  EXPECT_EQ(file.names(), (std::vector<std::string>{"", "a", "z"}));
  EXPECT_TRUE(file.contains("a"));
  EXPECT_FALSE(file.contains("b"));
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "\xC3\xA9"}}));
  const TensorInfo& a = file.info("a");
  EXPECT_EQ(a.dtype, DType::U8);
  EXPECT_EQ(a.shape, (Shape{2}));
  EXPECT_EQ(a.begin, 0u);
  EXPECT_EQ(a.end, 2u);
  EXPECT_EQ(file.read_f32("z").shape(), (Shape{0, 3}));  // zero-size tensor at [s, s]
}

TEST(SafetensorsReader, EveryDTypeValidates) {
  const DType all[] = {DType::BOOL, DType::F4, DType::F6_E2M3, DType::F6_E3M2, DType::U8,
                       DType::I8, DType::F8_E5M2, DType::F8_E4M3, DType::F8_E8M0,
                       DType::F8_E4M3FNUZ, DType::F8_E5M2FNUZ, DType::I16, DType::U16,
                       DType::F16, DType::BF16, DType::I32, DType::U32, DType::F32, DType::C64,
                       DType::F64, DType::I64, DType::U64};
  std::string header = "{";
  std::uint64_t offset = 0;
  for (const DType d : all) {
    EXPECT_EQ(parse_dtype(dtype_name(d)), d);
    // 4 elements fill whole bytes for every dtype (4 · 6 bits = 3 bytes).
    const std::uint64_t bytes = 4 * dtype_bits(d) / 8;
    header += (offset > 0 ? "," : "") + entry(dtype_name(d), dtype_name(d), "[2,2]", offset, offset + bytes);
    offset += bytes;
  }
  header += "}";
  const auto file = SafetensorsFile::from_bytes(file_bytes(header, Bytes(offset, 0)));
  for (const DType d : all) EXPECT_EQ(file.info(dtype_name(d)).dtype, d);
  EXPECT_EQ(dtype_name(DType::F8_E4M3FNUZ), "F8_E4M3FNUZ");
  EXPECT_EQ(dtype_bits(DType::F4), 4u);
  EXPECT_EQ(parse_dtype("F8"), std::nullopt);
}

TEST(SafetensorsReader, EmptyHeaderObjectIsAValidFile) {
  const auto file = SafetensorsFile::from_bytes(file_bytes("{}"));
  EXPECT_TRUE(file.names().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST(SafetensorsReader, OpenMapsAFileAndSurvivesMoves) {
  Bytes data;
  append_le<float>(data, {3.0f, 4.0f});
  const auto path = write_temp("open_maps.safetensors",
                               file_bytes("{" + entry("v", "F32", "[2]", 0, 8) + "}", data));
  SafetensorsFile file = SafetensorsFile::open(path);
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.read_f32("v")(1), 4.0f);
  std::filesystem::remove(path);
}

TEST(SafetensorsReader, OpenMissingFileIsAnIoErrorNamingThePath) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "does_not_exist.safetensors";
  try {
    SafetensorsFile::open(path);
    FAIL() << "opened a missing file";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::Io);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsReader, OpenDirectoryOrEmptyFileIsRefused) {
  try {
    SafetensorsFile::open(::testing::TempDir());
    FAIL() << "opened a directory";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::Io) << e.what();
  }
  const auto empty = write_temp("empty.safetensors", {});
  try {
    SafetensorsFile::open(empty);
    FAIL() << "opened an empty file";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::HeaderTooSmall) << e.what();
  }
  std::filesystem::remove(empty);
}

TEST(SafetensorsReader, TruncatedFileOnDiskNamesTheFile) {
  Bytes data;
  append_le<float>(data, {1, 2, 3});
  Bytes image = file_bytes("{" + entry("t", "F32", "[3]", 0, 12) + "}", data);
  image.resize(image.size() - 5);
  const auto path = write_temp("truncated.safetensors", image);
  try {
    SafetensorsFile::open(path);
    FAIL() << "opened a truncated file";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::IncompleteBuffer);
    EXPECT_EQ(std::string(e.what()).rfind("'" + path.string() + "': ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("file truncated"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(SafetensorsReader, SubByteDTypesNeedWholeBytes) {
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(file_bytes("{" + entry("q", "F4", "[2]", 0, 1) + "}", Bytes(1, 0))));
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(file_bytes("{" + entry("q", "F6_E2M3", "[4]", 0, 3) + "}", Bytes(3, 0))));
  EXPECT_TRUE(rejects(file_bytes("{" + entry("q", "F4", "[1]", 0, 1) + "}", Bytes(1, 0)), Kind::MisalignedSlice));
}

}  // namespace
}  // namespace mha
