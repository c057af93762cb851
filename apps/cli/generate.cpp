// mha generate — text from a causal language model (`mha train --objective causal-lm`, or the
// built-in demo-lm), decoded token by token with a KV cache, or with --no-cache by recomputing
// the whole causal forward for every token (the oracle the cached run must agree with).
//
//   mha generate [--model demo-lm|FILE] [--prompt TEXT] [--max-tokens 64] [--temperature 0]
//                [--top-k 0] [--top-p 1] [--seed 0] [--cache-dtype f32|bf16|f16] [--no-cache]
//                [--ignore-eos] [--threads 1] [--json]
// Streams the prompt and each token to stdout as it comes (flushed per token; a line per
// sentence), then prints the timings to stderr: prefill ms (the prompt's pass and the first
// token), decode ms per token (every later token) and tokens/s (1000 / decode ms per token).
// --json prints one object instead: the tokens, the text and the same numbers.
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli_options.hpp"
#include "commands.hpp"
#include "lm_generation.hpp"
#include "training_options.hpp"

namespace mha::cli {
namespace {

struct GenerateArgs {
  std::string model = "demo-lm", prompt, cache_dtype = "f32", kernel;
  Index max_tokens = 64;
  train::SamplingParams sampling{.temperature = 0};
  std::uint64_t seed = 0;
  bool no_cache = false, ignore_eos = false, json = false;
  int threads = 1;
};

// The library names the field ("top_p"); the user typed the flag ("--top-p").
void check_sampling(const train::SamplingParams& s) {
  if (!(s.temperature >= 0)) throw_invalid("--temperature", ">= 0 (0 = greedy)", std::to_string(s.temperature));
  if (s.top_k < 0) throw_invalid("--top-k", ">= 0 (0 = no limit)", std::to_string(s.top_k));
  if (!(s.top_p > 0 && s.top_p <= 1)) throw_invalid("--top-p", "in (0, 1]", std::to_string(s.top_p));
  train::validate(s);
}

double per_token(const Generation& g) {
  return g.decode_steps > 0 ? g.decode_ms / static_cast<double>(g.decode_steps) : 0.0;
}

nlohmann::json generation_json(const GenerateArgs& a, const LanguageModel& lm,
                               const std::vector<std::int64_t>& prompt, const Generation& g) {
  const lang::Vocabulary& vocabulary = lm.model.vocabulary;
  std::vector<std::string> words;
  for (const std::int64_t id : g.tokens) words.push_back(vocabulary.word(id));
  std::vector<std::int64_t> all(prompt.begin() + 1, prompt.end());  // without the leading <eos>
  all.insert(all.end(), g.tokens.begin(), g.tokens.end());
  const double ms = per_token(g);
  return {{"model", a.model},
          {"prompt", a.prompt},
          {"prompt_tokens", prompt.size()},
          {"tokens", words},
          {"token_ids", g.tokens},
          {"text", vocabulary.decode(all)},
          {"stopped", g.stopped_at_eos ? "eos" : "max_tokens"},
          {"cache", !a.no_cache},
          {"cache_dtype", a.no_cache ? "none" : a.cache_dtype},
          {"temperature", a.sampling.temperature},
          {"top_k", a.sampling.top_k},
          {"top_p", a.sampling.top_p},
          {"seed", a.seed},
          {"threads", a.threads},
          {"prefill_ms", g.prefill_ms},
          {"decode_steps", g.decode_steps},
          {"decode_ms_per_token", ms},
          {"last_token_ms", g.last_token_ms},
          {"decode_ms_median", median_ms(g.step_ms)},
          // The cost at the end of the run, where the cache (or the recomputed forward) is longest.
          {"decode_ms_median_last_16",
           median_ms(std::vector<double>(g.step_ms.end() - std::min<std::ptrdiff_t>(16, std::ssize(g.step_ms)),
                                         g.step_ms.end()))},
          {"tokens_per_second", ms > 0 ? 1000.0 / ms : 0.0}};
}

void run_generate(const GenerateArgs& a) {
  check_sampling(a.sampling);
  const Context ctx{.kernel = resolve_kernel(a.kernel), .threads = a.threads};
  GenerationSettings settings{.max_tokens = a.max_tokens, .sampling = a.sampling, .seed = a.seed,
                              .cache = std::nullopt, .ignore_eos = a.ignore_eos,
                              .count_argument = "--max-tokens"};
  if (!a.no_cache) settings.cache = parse_cache_dtype(a.cache_dtype, "--cache-dtype");
  const LanguageModel lm = load_language_model(a.model, "--model");
  const std::vector<std::int64_t> prompt = prompt_ids(lm, a.prompt, "--prompt");
  bool line_start = a.prompt.empty();
  if (!a.json) {
    fmt::print("{}", a.prompt);
    std::fflush(stdout);
  }
  const Generation g = generate(lm, prompt, settings, ctx, [&](std::int64_t token) {
    if (a.json) return;
    const bool eos = token == lm.end_of_sentence;
    fmt::print("{}{}{}", line_start ? "" : " ", lm.model.vocabulary.word(token), eos ? "\n" : "");
    line_start = eos;
    std::fflush(stdout);
  });
  if (a.json) {
    fmt::print("{}\n", generation_json(a, lm, prompt, g).dump());
    return;
  }
  if (!line_start) fmt::print("\n");
  std::fflush(stdout);
  const double ms = per_token(g);
  fmt::print(stderr,
             "{} tokens{}: prefill {:.2f} ms ({} prompt tokens with <eos>), decode {:.3f} ms/token over {} "
             "tokens ({:.0f} tokens/s; median {:.3f} ms), cache {}\n",
             g.tokens.size(), g.stopped_at_eos ? " (stopped at <eos>)" : "", g.prefill_ms, prompt.size(), ms,
             g.decode_steps, ms > 0 ? 1000.0 / ms : 0.0, median_ms(g.step_ms),
             a.no_cache ? "none (--no-cache)" : a.cache_dtype);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate text with a causal language model (demo-lm or mha train --objective causal-lm)");
  cmd->add_option("--model", a->model, "demo-lm (built in) or a checkpoint of mha train --objective causal-lm")
      ->capture_default_str();
  cmd->add_option("--prompt", a->prompt, "the text to continue (words of the model's vocabulary; <eos> ends a sentence)");
  cmd->add_option("--max-tokens", a->max_tokens, "tokens to generate at most")
      ->check(positive_count())
      ->capture_default_str();
  cmd->add_option("--temperature", a->sampling.temperature, "softmax temperature; 0 = greedy (argmax)")
      ->capture_default_str();
  cmd->add_option("--top-k", a->sampling.top_k, "sample among the K most probable tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus: the fewest most probable tokens whose mass reaches P")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed of the sampling (mt19937_64): a seed reproduces the tokens")
      ->capture_default_str();
  cmd->add_option("--cache-dtype", a->cache_dtype, "element type of the KV cache")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  cmd->add_flag("--no-cache", a->no_cache, "recompute the whole causal forward for every token (the oracle)");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "do not stop at <eos>: generate exactly --max-tokens tokens");
  cmd->add_option("--threads", a->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object (tokens, text, timings) instead of the stream");
  add_kernel_option(*cmd, a->kernel);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace mha::cli
