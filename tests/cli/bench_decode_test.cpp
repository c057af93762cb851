// `mha bench --decode`: the JSON keys of a step and of a generation loop, and one clear error line
// (exit 2) naming the option for each kind of bad argument. Small shapes, one repeat, two caches:
// these check the command, not the machine (the bandwidth probe still runs once per step bench).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

nlohmann::json json_of(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(CliBenchDecode, StepJsonHasTheKeysAndConsistentBytes) {
  const CliResult r = run_mha(
      "bench --decode --context 48 --batch 2 --shape 64,4,2 --cache-dtype bf16 --caches 2 "
      "--threads 1 --repeats 1 --json");
  const nlohmann::json j = json_of(r);
  for (const char* key : {"ms_per_token", "kv_gbps", "bandwidth_gbps", "bandwidth_fraction",
                          "cache_dtype", "threads", "layer_ms_per_token", "context", "batch", "shape",
                          "kv_bytes_per_token", "caches", "caches_reason", "simd", "cpu"})
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << r.out;
  EXPECT_EQ(j["cache_dtype"], "bf16");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["context"], 48);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["shape"], nlohmann::json({64, 4, 2}));
  EXPECT_EQ(j["caches"], 2);
  // 2·B·H_kv·S·D·sizeof(bf16) = 2·2·2·48·16·2
  EXPECT_EQ(j["kv_bytes_per_token"].get<double>(), 2.0 * 2 * 2 * 48 * 16 * 2);
  EXPECT_GT(j["ms_per_token"].get<double>(), 0.0);
  EXPECT_GT(j["layer_ms_per_token"].get<double>(), 0.0);
  EXPECT_GT(j["bandwidth_gbps"].get<double>(), 0.0);
  const double fraction = j["kv_gbps"].get<double>() / j["bandwidth_gbps"].get<double>();
  EXPECT_NEAR(j["bandwidth_fraction"].get<double>(), fraction, 1e-9 * fraction);
}

TEST(CliBenchDecode, StepTextNamesTheCachesAndTheBandwidth) {
  const CliResult r = run_mha("bench --decode --context 16 --shape 32,2 --caches 2 --repeats 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ms/token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 caches"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("of the read bandwidth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SIMD target"), std::string::npos) << r.out;
}

TEST(CliBenchDecode, GenerateJsonHasBothLoops) {
  const CliResult r = run_mha(
      "bench --decode --generate 4,6 --shape 32,4 --cache-dtype f16 --repeats 1 --json");
  const nlohmann::json j = json_of(r);
  for (const char* key : {"ms_per_token", "no_cache_ms_per_token", "speedup_vs_no_cache",
                          "prefill_ms", "tail_steps", "prompt", "generate", "cache_dtype", "threads"})
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << r.out;
  EXPECT_EQ(j["prompt"], 4);
  EXPECT_EQ(j["generate"], 6);
  EXPECT_EQ(j["tail_steps"], 6);  // min(32, G)
  EXPECT_EQ(j["cache_dtype"], "f16");
}

TEST(CliBenchDecode, BadArgumentsExit2NamingTheOption) {
  const std::string step = "bench --decode --shape 32,2 --caches 2 --repeats 1 ";
  const struct {
    std::string args, option;
  } cases[] = {
      {"bench --decode --shape 32,2", "--context"},  // no context and no --generate
      {step + "--context 0", "--context"},
      {step + "--context 8 --batch 0", "--batch"},
      {step + "--context 8 --cache-dtype f64", "--cache-dtype"},
      {"bench --decode --context 8 --shape 30,4", "--shape"},     // H does not divide E
      {"bench --decode --context 8 --shape 32,4,3", "--shape"},   // H_kv does not divide H
      {"bench --decode --context 8 --shape 1,16,32,4", "--shape"},  // the forward bench's shape
      {"bench --decode --shape 32,2 --repeats 1 --context 8 --caches -1", "--caches"},
      {"bench --decode --shape 32,2 --caches 2 --context 8 --repeats 0", "--repeats"},
      {"bench --decode --generate 4,4 --shape 32,2 --context 8", "--context"},
      {step + "--context 8 --threads -1", "--threads"},
      {step + "--context 8 --causal", "--causal"},
      {"bench --decode --generate 32 --shape 32,2", "--generate"},
      {"bench --decode --generate 0,4 --shape 32,2", "--generate"},
      {"bench --context 8", "--context"},  // decode options without --decode
      {"bench --cache-dtype bf16", "--cache-dtype"},
      {"bench --generate 4,4", "--generate"},
  };
  for (const auto& c : cases) {
    const CliResult r = run_mha(c.args);
    EXPECT_TRUE(fails_naming(r, c.option)) << c.args;
    EXPECT_EQ(r.exit_code, 2) << c.args;
  }
}

}  // namespace
}  // namespace mha::testing
