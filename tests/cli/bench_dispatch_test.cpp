// `mha bench` names the attention path the layer's core runs, and --explain-dispatch says why:
// short rows run unfused, long or causal ones fused (src/kernels/cpu/attention_path.cpp). Small
// shapes and one repeat: this checks the command, not the machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

TEST(CliBenchDispatch, ExplainNamesThePathAndTheRule) {
  const CliResult short_rows = run_mha("bench --shape 1,64,32,4 --threads 1 --repeats 1 --explain-dispatch");
  ASSERT_EQ(short_rows.exit_code, 0) << short_rows.err;
  EXPECT_NE(short_rows.out.find("(unfused path)"), std::string::npos) << short_rows.out;
  EXPECT_NE(short_rows.out.find("attention path: unfused, because Lk = 64 ≤ 256"), std::string::npos)
      << short_rows.out;

  const CliResult causal =
      run_mha("bench --shape 1,200,32,4 --causal --threads 1 --repeats 1 --explain-dispatch");
  ASSERT_EQ(causal.exit_code, 0) << causal.err;
  EXPECT_NE(causal.out.find("attention path: fused, because Lk = 200 > 64 with causality"),
            std::string::npos)
      << causal.out;
}

TEST(CliBenchDispatch, JsonCarriesThePathAndTheReason) {
  const CliResult r = run_mha("bench --shape 1,600,32,4 --threads 1 --repeats 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["attention_path"], "fused");
  EXPECT_NE(j["dispatch_reason"].get<std::string>().find("Lk = 600 > 256"), std::string::npos);
  const CliResult reference = run_mha("bench --shape 1,16,32,4 --kernel ref --repeats 1 --json");
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  EXPECT_EQ(nlohmann::json::parse(reference.out)["attention_path"], "reference");
}

TEST(CliBenchDispatch, ExplainIsOnlyForTheLayerBench) {
  EXPECT_TRUE(fails_naming(run_mha("bench --decode --context 8 --shape 32,2 --explain-dispatch"),
                           "--explain-dispatch"));
}

}  // namespace
}  // namespace mha::testing
