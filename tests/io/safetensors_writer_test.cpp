// SafetensorsWriter: round trips through the reader, strided views, the reference layout
// (formats.md §1.3), argument errors and the atomic file write.
#include <filesystem>
#include <string>

#include "io/safetensors_test_bytes.hpp"

namespace mha {
namespace {

using testing::Bytes;
using Kind = SafetensorsError::Kind;

SafetensorsFile reread(const SafetensorsWriter& writer) {
  return SafetensorsFile::from_bytes(writer.bytes());
}

template <class T>
std::vector<T> values_of(const Tensor<T>& t) {
  return {t.values().begin(), t.values().end()};
}

std::string header_of(const Bytes& file) {
  std::uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  return {file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n)};
}

TEST(SafetensorsWriter, RoundTripsEveryType) {
  const Tensor<float> f({2, 3}, {1.5f, -2, 0, 3.25f, 1e-30f, -1e30f});
  const BoolTensor b({3}, {0, 1, 7});
  const Tensor<std::int64_t> i({2}, {-9'000'000'000'000, 42});
  SafetensorsWriter writer;
  writer.add("f", f.view());
  writer.add("b", b.view());
  writer.add("i", i.view());
  const SafetensorsFile file = reread(writer);
  EXPECT_EQ(file.info("f").dtype, DType::F32);
  EXPECT_EQ(file.info("b").dtype, DType::BOOL);
  EXPECT_EQ(file.info("i").dtype, DType::I64);
  EXPECT_EQ(file.read_f32("f").shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of(file.read_f32("f")), values_of(f));
  EXPECT_EQ(values_of(file.read_bool("b")), (std::vector<std::uint8_t>{0, 1, 1}));
  EXPECT_EQ(values_of(file.read_i64("i")), values_of(i));
}

TEST(SafetensorsWriter, RoundTripsScalarsAndZeroSizeTensors) {
  const Tensor<float> scalar(Shape{}, {2.5f});
  const Tensor<float> empty(Shape{0, 4});
  const BoolTensor empty_mask(Shape{3, 0});
  const Tensor<std::int64_t> scalar_i(Shape{}, {-1});
  SafetensorsWriter writer;
  writer.add("scalar", scalar.view());
  writer.add("empty", empty.view());
  writer.add("empty_mask", empty_mask.view());
  writer.add("scalar_i", scalar_i.view());
  const SafetensorsFile file = reread(writer);
  EXPECT_EQ(file.read_f32("scalar").shape(), Shape{});
  EXPECT_EQ(file.read_f32("scalar").values()[0], 2.5f);
  EXPECT_EQ(file.read_f32("empty").shape(), (Shape{0, 4}));
  EXPECT_EQ(file.read_bool("empty_mask").shape(), (Shape{3, 0}));
  EXPECT_EQ(file.read_i64("scalar_i").values()[0], -1);
  EXPECT_EQ(file.info("empty").begin, file.info("empty").end);
}

TEST(SafetensorsWriter, CopiesStridedViewsInRowMajorOrder) {
  // m = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
  Tensor<float> m({3, 4});
  for (std::size_t k = 0; k < 12; ++k) m.values()[k] = static_cast<float>(k);
  SafetensorsWriter writer;
  writer.add("transposed", TensorView<const float>(m.data(), {4, 3}, {1, 4}));
  writer.add("every_other_column", TensorView<const float>(m.data() + 1, {3, 2}, {4, 2}));
  writer.add("broadcast_row", TensorView<const float>(m.data() + 4, {2, 4}, {0, 1}));
  writer.add("reversed", TensorView<const float>(m.data() + 3, {4}, {-1}));
  const SafetensorsFile file = reread(writer);
  EXPECT_EQ(values_of(file.read_f32("transposed")),
            (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(values_of(file.read_f32("every_other_column")), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(values_of(file.read_f32("broadcast_row")), (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7}));
  EXPECT_EQ(values_of(file.read_f32("reversed")), (std::vector<float>{3, 2, 1, 0}));
}

TEST(SafetensorsWriter, LayoutFollowsTheReferenceWriter) {
  const Tensor<float> f({1}, {1});
  const BoolTensor b({1}, {1});
  const Tensor<std::int64_t> i({1}, {1});
  SafetensorsWriter writer;
  writer.add("b_bool", b.view());
  writer.add("z_f32", f.view());
  writer.add("a_f32", f.view());
  writer.add("c_i64", i.view());
  writer.set_metadata("format", "pt");
  const Bytes file = writer.bytes();
  const std::string header = header_of(file);
  EXPECT_EQ(header.size() % 8, 0u);
  EXPECT_EQ(header.front(), '{');
  const std::string json = header.substr(0, header.find_last_not_of(' ') + 1);
  EXPECT_EQ(json,
            R"({"__metadata__":{"format":"pt"},)"
            R"("c_i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
            R"("a_f32":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
            R"("z_f32":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},)"
            R"("b_bool":{"dtype":"BOOL","shape":[1],"data_offsets":[16,17]}})");
  EXPECT_EQ(header.substr(json.size()), std::string(header.size() - json.size(), ' '));
  EXPECT_EQ(file.size(), 8 + header.size() + 17);
  EXPECT_EQ(reread(writer).metadata().at("format"), "pt");
}

TEST(SafetensorsWriter, MetadataIsReplacedAndEscaped) {
  SafetensorsWriter writer;
  writer.set_metadata("k", "old");
  writer.set_metadata("k", "quote \" backslash \\ newline \n \xC3\xA9");
  EXPECT_EQ(reread(writer).metadata(),
            (std::map<std::string, std::string>{{"k", "quote \" backslash \\ newline \n \xC3\xA9"}}));
}

TEST(SafetensorsWriter, RejectsBadNames) {
  const Tensor<float> t({1}, {1});
  SafetensorsWriter writer;
  writer.add("w", t.view());
  EXPECT_THROW(writer.add("", t.view()), Error);
  EXPECT_THROW(writer.add("__metadata__", t.view()), Error);
  EXPECT_THROW(writer.add("bad\xFF", t.view()), Error);
  EXPECT_THROW(writer.set_metadata("k", "\xC0\xAF"), Error);
  try {
    writer.add("w", t.view());
    FAIL() << "added a name twice";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::DuplicateName);
    EXPECT_STREQ(e.what(), "tensor 'w' added twice");
  }
  EXPECT_THROW(writer.add("null", TensorView<const float>(nullptr, {2})), Error);
  EXPECT_NO_THROW(writer.add("null_empty", TensorView<const float>(nullptr, {0})));
}

TEST(SafetensorsWriter, WritesAFileAtomicallyAndOverwrites) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "mha_writer_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "model.safetensors";
  SafetensorsWriter first;
  first.add("v", Tensor<float>({2}, {1, 2}).view());
  first.write(path);
  SafetensorsWriter second;
  second.add("v", Tensor<float>({3}, {7, 8, 9}).view());
  second.write(path);  // replaces the old file
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(values_of(file.read_f32("v")), (std::vector<float>{7, 8, 9}));
  // Nothing but the file itself is left in the directory.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  std::filesystem::remove_all(dir);
}

TEST(SafetensorsWriter, WriteIntoAMissingDirectoryIsAnIoError) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "no_such_dir" / "x.safetensors";
  SafetensorsWriter writer;
  try {
    writer.write(path);
    FAIL() << "wrote into a missing directory";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(e.kind(), Kind::Io);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mha
