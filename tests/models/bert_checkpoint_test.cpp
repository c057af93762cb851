// Checkpoint folder variants: names with and without "bert.", weight/bias vs gamma/beta, F16 and
// BF16 tensors, sharded files, and a named error for each way a checkpoint can be wrong.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "models/bert_fixture.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using bert_testing::fixture_dir;
using bert_testing::fixture_tensors;
using bert_testing::read_text;
using bert_testing::run_fixture_batch;
using bert_testing::ScratchDir;
using bert_testing::write_checkpoint;
using bert_testing::write_text;
using testing::throws_error;
using Tensors = std::map<std::string, Tensor<>>;

// Two outputs of the fixture batch are the same, bit for bit.
void expect_same_outputs(const BertModel& a, const BertModel& b) {
  const BertOutput x = run_fixture_batch(a), y = run_fixture_batch(b);
  for (std::size_t n = 0; n < x.hidden_states.size(); ++n)
    EXPECT_TRUE(testing::all_close(x.hidden_states[n].view(), y.hidden_states[n].view(), 0)) << n;
  for (std::size_t n = 0; n < x.attentions.size(); ++n)
    EXPECT_TRUE(testing::all_close(x.attentions[n].view(), y.attentions[n].view(), 0)) << n;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// BertModel.save_pretrained's spelling: no "bert." prefix, LayerNorm.weight/bias, no heads.
Tensors bare_model_names(const Tensors& hub) {
  Tensors bare;
  for (const auto& [name, t] : hub) {
    if (name.rfind("bert.", 0) != 0) continue;  // cls.* heads
    std::string n = name.substr(5);
    if (ends_with(n, "LayerNorm.gamma")) n.replace(n.size() - 5, 5, "weight");
    if (ends_with(n, "LayerNorm.beta")) n.replace(n.size() - 4, 4, "bias");
    bare.emplace(n, t);
  }
  return bare;
}

TEST(BertCheckpoint, UnprefixedWeightBiasNamesLoadTheSameModel) {
  ScratchDir dir;
  write_checkpoint(dir.path(), bare_model_names(fixture_tensors()));
  expect_same_outputs(BertModel::load(dir.path()), BertModel::load(fixture_dir()));
}

TEST(BertCheckpoint, MissingTensorIsNamed) {
  ScratchDir dir;
  Tensors tensors = fixture_tensors();
  tensors.erase("bert.encoder.layer.1.output.dense.bias");
  write_checkpoint(dir.path(), tensors);
  EXPECT_TRUE(throws_error(
      [&] { BertModel::load(dir.path()); },
      {"expected a tensor named 'bert.encoder.layer.1.output.dense.bias'", "got none"}));
  tensors = fixture_tensors();
  tensors.erase("bert.encoder.layer.0.attention.output.LayerNorm.gamma");
  write_checkpoint(dir.path(), tensors);
  EXPECT_TRUE(
      throws_error([&] { BertModel::load(dir.path()); },
                   {"'bert.encoder.layer.0.attention.output.LayerNorm.weight'",
                    "(or the legacy 'bert.encoder.layer.0.attention.output.LayerNorm.gamma')"}));
}

TEST(BertCheckpoint, GammaTogetherWithWeightIsAmbiguous) {
  ScratchDir dir;
  Tensors tensors = fixture_tensors();
  tensors.emplace("bert.embeddings.LayerNorm.weight",
                  tensors.at("bert.embeddings.LayerNorm.gamma"));
  write_checkpoint(dir.path(), tensors);
  EXPECT_TRUE(
      throws_error([&] { BertModel::load(dir.path()); },
                   {"tensor 'bert.embeddings.LayerNorm.weight': expected either it or the legacy "
                    "'bert.embeddings.LayerNorm.gamma', not both"}));
}

TEST(BertCheckpoint, PrefixedAndBareCopiesAreAmbiguous) {
  ScratchDir dir;
  Tensors tensors = fixture_tensors();
  tensors.emplace("embeddings.word_embeddings.weight",
                  tensors.at("bert.embeddings.word_embeddings.weight"));
  write_checkpoint(dir.path(), tensors);
  EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); }, {"not both"}));
}

TEST(BertCheckpoint, ShapesAreCheckedAgainstTheConfig) {
  ScratchDir dir;
  auto config = nlohmann::json::parse(read_text(fixture_dir() / "config.json"));
  config["intermediate_size"] = 48;
  write_checkpoint(dir.path(), fixture_tensors(), config.dump());
  EXPECT_TRUE(
      throws_error([&] { BertModel::load(dir.path()); },
                   {"tensor 'bert.encoder.layer.0.intermediate.dense.weight' in model.safetensors",
                    "expected shape [48, 32] (from config.json)", "got [64, 32]"}));
}

// A config that claims more (or fewer) layers than the file holds is refused before anything is
// sized by it; 10^8 layers used to end in std::bad_alloc.
TEST(BertCheckpoint, LayerCountIsCheckedAgainstTheCheckpoint) {
  ScratchDir dir;
  auto config = nlohmann::json::parse(read_text(fixture_dir() / "config.json"));
  for (const int layers : {100000000, 3, 1}) {
    config["num_hidden_layers"] = layers;
    write_checkpoint(dir.path(), fixture_tensors(), config.dump());
    EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); },
                             {"config.json num_hidden_layers: expected 2 (the checkpoint",
                              "holds 2 layers named bert.encoder.layer.N)",
                              "got " + std::to_string(layers)}))
        << layers;
  }
}

TEST(BertCheckpoint, LayerIndicesWithAGapAreAnError) {
  ScratchDir dir;
  Tensors tensors;
  for (const auto& [name, t] : fixture_tensors()) {
    std::string renamed = name;
    const std::string from = "bert.encoder.layer.1.";
    if (renamed.rfind(from, 0) == 0) renamed.replace(0, from.size(), "bert.encoder.layer.5.");
    tensors.emplace(renamed, t);
  }
  write_checkpoint(dir.path(), tensors);
  EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); },
                           {"expected layers bert.encoder.layer.0 to bert.encoder.layer.1 "
                            "without gaps",
                            "got 2 layer indices up to 5"}));
}

TEST(BertCheckpoint, NonFloatTensorIsAnError) {
  ScratchDir dir;
  write_text(dir.path() / "config.json", read_text(fixture_dir() / "config.json"));
  SafetensorsWriter writer;
  for (const auto& [name, t] : fixture_tensors())
    if (name != "bert.embeddings.token_type_embeddings.weight") writer.add(name, t.view());
  writer.add("bert.embeddings.token_type_embeddings.weight", Tensor<std::int64_t>({2, 32}).view());
  writer.write(dir.path() / "model.safetensors");
  EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); },
                           {"tensor 'bert.embeddings.token_type_embeddings.weight'",
                            "expected dtype F32, F16, BF16 or F64", "got I64"}));
}

TEST(BertCheckpoint, FolderWithoutWeightsIsAnError) {
  ScratchDir dir;
  write_text(dir.path() / "config.json", read_text(fixture_dir() / "config.json"));
  EXPECT_TRUE(
      throws_error([&] { BertModel::load(dir.path()); },
                   {"a model.safetensors or a model.safetensors.index.json", "got neither"}));
}

// --- half-precision checkpoints ---

// float → IEEE binary16, round to nearest even (the values here are far inside its range).
std::uint16_t to_f16(float f) {
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a == 0) return sign;
  int e = std::ilogb(a);
  if (e < -14)  // subnormal: multiples of 2^-24 (1024 · 2^-24 rounds up into the smallest normal)
    return static_cast<std::uint16_t>(sign |
                                      static_cast<std::uint16_t>(std::nearbyint(a * 0x1p24)));
  double m = std::nearbyint(std::ldexp(a, 10 - e));  // 11-bit significand in [1024, 2048]
  if (m == 2048) {                                   // rounded up to the next power of two
    m = 1024;
    ++e;
  }
  return static_cast<std::uint16_t>(sign | (e + 15) << 10 | (static_cast<int>(m) - 1024));
}

float from_f16(std::uint16_t h) {
  const int exponent = (h >> 10) & 31, mantissa = h & 1023;
  const double magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return static_cast<float>((h & 0x8000) != 0 ? -magnitude : magnitude);
}

// float → bfloat16: the top 16 bits, rounded to nearest even.
std::uint16_t to_bf16(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  return static_cast<std::uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

float from_bf16(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

// A safetensors file written by hand (SafetensorsWriter writes F32, BOOL and I64 only): every
// tensor as `dtype` with 16-bit elements from `encode`.
void write_half_file(const std::filesystem::path& path, const Tensors& tensors,
                     const std::string& dtype, std::uint16_t (*encode)(float)) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::vector<std::uint8_t> data;
  for (const auto& [name, t] : tensors) {
    const std::size_t begin = data.size();
    for (float x : t.values()) {
      const std::uint16_t h = encode(x);
      data.push_back(static_cast<std::uint8_t>(h & 0xFF));  // little-endian
      data.push_back(static_cast<std::uint8_t>(h >> 8));
    }
    header[name] = {{"dtype", dtype}, {"shape", t.shape()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) file[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  file += text;
  file.append(reinterpret_cast<const char*>(data.data()), data.size());
  write_text(path, file);
}

// The F16 / BF16 checkpoint must load exactly as an F32 checkpoint of the same rounded values.
void expect_half_checkpoint_loads(const std::string& dtype, std::uint16_t (*encode)(float),
                                  float (*decode)(std::uint16_t)) {
  const Tensors tensors = fixture_tensors();
  Tensors rounded;
  for (const auto& [name, t] : tensors) {
    Tensor<> r = t;
    for (float& x : r.values()) x = decode(encode(x));
    rounded.emplace(name, std::move(r));
  }
  ScratchDir half, single;
  write_text(half.path() / "config.json", read_text(fixture_dir() / "config.json"));
  write_half_file(half.path() / "model.safetensors", tensors, dtype, encode);
  write_checkpoint(single.path(), rounded);
  const BertModel half_model = BertModel::load(half.path());
  expect_same_outputs(half_model, BertModel::load(single.path()));
  // And the rounding is a small perturbation of the F32 model, not garbage.
  const BertOutput out = run_fixture_batch(half_model),
                   want = run_fixture_batch(BertModel::load(fixture_dir()));
  EXPECT_LT(testing::max_abs_diff(out.last_hidden_state.view(), want.last_hidden_state.view()),
            0.25)
      << dtype;
}

TEST(BertCheckpoint, F16TensorsLoad) { expect_half_checkpoint_loads("F16", to_f16, from_f16); }
TEST(BertCheckpoint, BF16TensorsLoad) { expect_half_checkpoint_loads("BF16", to_bf16, from_bf16); }

TEST(BertCheckpoint, HalfConversionHelpersRoundTrip) {
  EXPECT_EQ(to_f16(1.0f), 0x3C00);
  EXPECT_EQ(to_f16(-2.0f), 0xC000);
  EXPECT_EQ(to_f16(0x1p-24f), 0x0001);
  EXPECT_EQ(from_f16(0x3555), 0.333251953125f);
  EXPECT_EQ(to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(from_bf16(0x3F80), 1.0f);
}

// --- sharded checkpoints ---

// Splits the fixture tensors over two shard files (embeddings and layer 0 | the rest) and writes
// the index; `second_shard_name` lets a test put a bad path into the index.
void write_sharded(const std::filesystem::path& folder, const std::string& second_shard_name) {
  write_text(folder / "config.json", read_text(fixture_dir() / "config.json"));
  SafetensorsWriter first, second;
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  for (const auto& [name, t] : fixture_tensors()) {
    const bool early =
        name.find("embeddings") != std::string::npos || name.find("layer.0.") != std::string::npos;
    (early ? first : second).add(name, t.view());
    index["weight_map"][name] = early ? "model-00001-of-00002.safetensors" : second_shard_name;
  }
  first.write(folder / "model-00001-of-00002.safetensors");
  second.write(folder / "model-00002-of-00002.safetensors");
  write_text(folder / "model.safetensors.index.json", index.dump(2));
}

TEST(BertCheckpoint, ShardedCheckpointLoadsTheSameModel) {
  ScratchDir dir;
  write_sharded(dir.path(), "model-00002-of-00002.safetensors");
  expect_same_outputs(BertModel::load(dir.path()), BertModel::load(fixture_dir()));
}

TEST(BertCheckpoint, ShardPathsMustStayInsideTheFolder) {
  ScratchDir dir;
  for (const char* bad :
       {"../model-00002-of-00002.safetensors", "/etc/passwd", "sub/../../x.safetensors", ""}) {
    write_sharded(dir.path(), bad);
    EXPECT_TRUE(
        throws_error([&] { BertModel::load(dir.path()); },
                     {"weight_map: expected shard file names relative to the checkpoint folder"}))
        << bad;
  }
}

TEST(BertCheckpoint, IndexMustMatchItsShards) {
  ScratchDir dir;
  // Every tensor of the second half claimed by the first shard, which lacks them.
  write_sharded(dir.path(), "model-00001-of-00002.safetensors");
  EXPECT_TRUE(throws_error(
      [&] { BertModel::load(dir.path()); },
      {"expected in shard model-00001-of-00002.safetensors", "got a shard without it"}));
  write_text(dir.path() / "model.safetensors.index.json", R"({"weight_map": []})");
  EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); },
                           {"expected an object with a \"weight_map\" object"}));
  write_text(dir.path() / "model.safetensors.index.json", R"({"weight_map": {"a": 1}})");
  EXPECT_TRUE(throws_error([&] { BertModel::load(dir.path()); },
                           {"weight_map[\"a\"]: expected a shard file name"}));
}

}  // namespace
}  // namespace mha
