// Shared by the BERT tests: the tiny checkpoint made by scripts/make_bert_fixture.py
// (tests/fixtures/bert_tiny), its expected outputs, and scratch checkpoint folders for the
// loader variants (renamed, sharded, F16/BF16, broken).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "mha/io/safetensors.hpp"
#include "mha/models/bert.hpp"

namespace mha::bert_testing {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(MHA_FIXTURES_DIR) / "bert_tiny";
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The fixture batch: input_ids, token_type_ids and attention_mask from expected.safetensors.
struct FixtureInputs {
  Tensor<std::int64_t> input_ids, token_type_ids, attention_mask;

  static FixtureInputs load(const SafetensorsFile& expected) {
    return {expected.read_i64("input_ids"), expected.read_i64("token_type_ids"),
            expected.read_i64("attention_mask")};
  }
  BertInput input() const {
    return {input_ids.view(), token_type_ids.view(), attention_mask.view()};
  }
};

// Every F32 tensor of the fixture checkpoint, by name (the I64 position_ids buffer is left out).
inline std::map<std::string, Tensor<>> fixture_tensors() {
  const SafetensorsFile file = SafetensorsFile::open(fixture_dir() / "model.safetensors");
  std::map<std::string, Tensor<>> tensors;
  for (const std::string& name : file.names())
    if (file.info(name).dtype == DType::F32) tensors.emplace(name, file.read_f32(name));
  return tensors;
}

// A fresh folder under the system temp directory, named after the running test and removed
// with everything in it when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("mha_bert_" + std::string(test->test_suite_name()) + "_" + test->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a checkpoint folder: the fixture's config.json (or `config`) and model.safetensors with
// `tensors`.
inline void write_checkpoint(const std::filesystem::path& folder,
                             const std::map<std::string, Tensor<>>& tensors,
                             const std::string& config = read_text(fixture_dir() / "config.json")) {
  write_text(folder / "config.json", config);
  SafetensorsWriter writer;
  for (const auto& [name, t] : tensors) writer.add(name, t.view());
  writer.write(folder / "model.safetensors");
}

// The fixture batch run through the model.
inline BertOutput run_fixture_batch(const BertModel& model, const Context& ctx = {}) {
  const SafetensorsFile expected = SafetensorsFile::open(fixture_dir() / "expected.safetensors");
  const FixtureInputs inputs = FixtureInputs::load(expected);
  return model.forward(inputs.input(), {}, ctx);
}

}  // namespace mha::bert_testing
