// Regression tests for the inputs the libFuzzer targets (tests/fuzz) found; each one is also a
// seed in tests/fuzz/corpus/. docs/reliability.md tells the story of every finding.
#include <string>

#include "io/safetensors_test_bytes.hpp"
#include "mha/models/bert_config.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::file_bytes;
using testing::rejects;
using testing::throws_error;

// fuzz_safetensors: [2^62, 2, 0] has zero elements and every extent fits 2^63 − 1, so validation
// accepted it, but reading it threw a plain mha::Error from numel_of (the running product 2^63
// overflows mha's signed Index): a validated tensor that could not be read. Now an Overflow.
TEST(FuzzFindings, SafetensorsRunningElementCountAboveIndexRange) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[4611686018427387904,2,0],"data_offsets":[0,0]}})";
  EXPECT_TRUE(rejects(file_bytes(header), SafetensorsError::Kind::Overflow, "running element count"));
  // The same product reached only after the zero is fine: numel_of stops growing at zero.
  const std::string zero_first =
      R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,2],"data_offsets":[0,0]}})";
  const SafetensorsFile file = SafetensorsFile::from_bytes(file_bytes(zero_first));
  EXPECT_EQ(file.read_f32("a").numel(), 0);
}

// fuzz_bert_config: a number beyond double's range made nlohmann throw json::out_of_range (not a
// parse_error), which escaped parse_bert_config as a non-mha exception.
TEST(FuzzFindings, BertConfigNumberBeyondDoubleIsAnError) {
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"layer_norm_eps": 1e400})"); },
                           {"config.json: expected valid JSON", "number overflow"}));
  EXPECT_TRUE(throws_error([] { parse_bert_config(R"({"x": [-1e999]})"); },
                           {"config.json: expected valid JSON"}));
}

}  // namespace
}  // namespace mha
