// `mha generate` with the built-in demo-lm: greedy decoding with the KV cache gives the tokens of
// the full causal forward (--no-cache), a seed reproduces a sampled run, --json has its keys,
// bf16 and f16 caches run, and bad input gives one line naming the argument.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_cli.hpp"

namespace mha::testing {
namespace {

const std::string kPrompt = "'the man saw the astronaut with a telescope <eos> the woman'";

nlohmann::json generate_json(const std::string& flags) {
  const CliResult r = run_mha("generate --model demo-lm --prompt " + kPrompt + " --json " + flags);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

TEST(CliGenerate, GreedyWithAndWithoutTheCacheGiveTheSameTokens) {
  const nlohmann::json cached = generate_json("--max-tokens 48 --ignore-eos");
  const nlohmann::json oracle = generate_json("--max-tokens 48 --ignore-eos --no-cache");
  ASSERT_TRUE(cached.is_object() && oracle.is_object());
  ASSERT_EQ(cached["tokens"].size(), 48u);
  EXPECT_EQ(cached["tokens"], oracle["tokens"]);
  EXPECT_EQ(cached["cache_dtype"], "f32");
  EXPECT_EQ(oracle["cache_dtype"], "none");
}

TEST(CliGenerate, JsonHasTheTokensTextAndTimings) {
  const nlohmann::json j = generate_json("--max-tokens 12 --ignore-eos");
  for (const char* key : {"tokens", "token_ids", "text", "prefill_ms", "decode_ms_per_token",
                          "tokens_per_second", "cache_dtype", "stopped"})
    EXPECT_TRUE(j.contains(key)) << key << " missing from " << j.dump();
  EXPECT_EQ(j["stopped"], "max_tokens");
  EXPECT_EQ(j["decode_steps"], 11);
  EXPECT_GT(j["prefill_ms"].get<double>(), 0.0);
  EXPECT_GT(j["tokens_per_second"].get<double>(), 0.0);
  // The text is the prompt followed by the tokens.
  const std::string text = j["text"];
  EXPECT_EQ(text.rfind("the man saw the astronaut with a telescope <eos> the woman ", 0), 0u) << text;
}

TEST(CliGenerate, GreedyCompletesTheSentenceGrammaticallyAndStopsAtEos) {
  // Without --ignore-eos the run ends at the sentence's end.
  const nlohmann::json j = generate_json("--max-tokens 20");
  EXPECT_EQ(j["stopped"], "eos");
  EXPECT_EQ(j["tokens"].back(), "<eos>");
  EXPECT_LE(j["tokens"].size(), 8u);
}

TEST(CliGenerate, ASeedReproducesASampledRun) {
  const std::string flags = "--max-tokens 40 --ignore-eos --temperature 1.2 --top-k 8 --top-p 0.95 ";
  const nlohmann::json a = generate_json(flags + "--seed 7");
  const nlohmann::json b = generate_json(flags + "--seed 7");
  const nlohmann::json other = generate_json(flags + "--seed 8");
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_NE(a["tokens"], other["tokens"]) << "another seed, 40 sampled tokens, the same text";
}

TEST(CliGenerate, HalfPrecisionCachesRun) {
  const nlohmann::json f32 = generate_json("--max-tokens 24 --ignore-eos");
  for (const std::string dtype : {"bf16", "f16"}) {
    const nlohmann::json j = generate_json("--max-tokens 24 --ignore-eos --cache-dtype " + dtype);
    EXPECT_EQ(j["cache_dtype"], dtype);
    ASSERT_EQ(j["tokens"].size(), 24u);
    // Greedy on a confident model: rounding the keys and values rarely flips an argmax; the
    // sentence the prompt starts is finished the same way.
    EXPECT_EQ(j["tokens"][0], f32["tokens"][0]) << dtype;
  }
}

TEST(CliGenerate, StreamsTokensAndReportsTimingsOnStderr) {
  const CliResult r = run_mha("generate --model demo-lm --prompt 'the girl' --max-tokens 30 --ignore-eos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the girl ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("<eos>\n"), std::string::npos) << "a line per sentence:\n" << r.out;
  EXPECT_NE(r.err.find("prefill"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ms/token"), std::string::npos) << r.err;
}

TEST(CliGenerate, BadInputIsOneLineNamingTheArgument) {
  const CliResult unknown = run_mha("generate --model demo-lm --prompt 'the man saw the spaceship'");
  EXPECT_TRUE(fails_naming(unknown, "--prompt"));
  EXPECT_NE(unknown.err.find("spaceship"), std::string::npos) << unknown.err;
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --max-tokens abc"), "--max-tokens"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --max-tokens 0"), "--max-tokens"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --max-tokens 100000"), "--max-tokens"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --temperature -1"), "--temperature"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --top-p 0"), "--top-p"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo-lm --cache-dtype f8"), "--cache-dtype"));
  EXPECT_TRUE(fails_naming(run_mha("generate --model demo"), "--model")) << "an encoder is not a language model";
}

TEST(CliHeads, DemoLmShowsCausalWeightsOfAGeneratedText) {
  const std::string dir = scratch_dir().string();
  const CliResult r = run_mha("heads --model demo-lm --text 'the man saw' --generate 6 --color never --json " + dir +
                              "/heads.json --html " + dir + "/heads.html");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(slurp(dir + "/heads.json"));
  const auto& tokens = j["tokens"];
  ASSERT_EQ(tokens.size(), 1u + 3u + 6u) << "<eos>, the text and 6 generated tokens";
  EXPECT_EQ(tokens[0], "<eos>");
  // Every head of every layer is lower-triangular: no query sees a later key.
  for (const auto& layer : j["attention"])
    for (const auto& head : layer)
      for (std::size_t i = 0; i < head.size(); ++i)
        for (std::size_t k = i + 1; k < head[i].size(); ++k) ASSERT_EQ(head[i][k].get<double>(), 0.0) << i << "," << k;
  EXPECT_NE(slurp(dir + "/heads.html").find("<html"), std::string::npos);
  EXPECT_TRUE(fails_naming(run_mha("heads --model demo --text 'the man' --generate 3"), "--model"));
  EXPECT_TRUE(fails_naming(run_mha("heads --model demo-lm --text 'the man' --generate 400"), "--generate"));
}

}  // namespace
}  // namespace mha::testing
