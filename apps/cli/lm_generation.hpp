// Text generation with a causal language model of `mha train --objective causal-lm`: the loop
// `mha generate` runs and `mha heads --generate` uses to extend a text.
//
//   ids   = <eos> (the stream's start, as in training: mha/train/causal_batches.hpp) + prompt
//   cache:    prefill  = decode(ids) once, then one decode() of the last token per new token
//   no cache: every token recomputes forward() over the whole sequence so far (the oracle: the
//             tokens must equal the cached run's, and the cost the cache saves)
//   token = sample_token(logits of the last position, sampling, rng)    (mha/train/token_sampling.hpp)
// It stops after max_tokens, or at the first <eos> it generates unless ignore_eos. The timings
// follow one untimed pass over the prompt, so they leave out oneDNN's one-time set-up per matrix
// shape (with --no-cache every step has a new length, and that set-up is part of its cost).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "demo_models.hpp"
#include "mha/core/context.hpp"
#include "mha/kernels/kv_cache.hpp"
#include "mha/train/token_sampling.hpp"

namespace mha::cli {

// A causal model and its vocabulary, with <eos>. Throws mha::Error naming `argument` when the
// model is not causal or its vocabulary has no <eos> (an encoder of `mha train`).
struct LanguageModel {
  DemoModel model;
  std::int64_t end_of_sentence = 0;
};
LanguageModel load_language_model(const std::string& name_or_path, const std::string& argument);
// The same checks on a model already loaded (`name` for the message).
LanguageModel as_language_model(DemoModel model, const std::string& name, const std::string& argument);

struct GenerationSettings {
  Index max_tokens = 64;
  train::SamplingParams sampling{.temperature = 0};
  std::uint64_t seed = 0;
  std::optional<CacheDtype> cache = CacheDtype::f32;  // nullopt: --no-cache
  bool ignore_eos = false;
  std::string count_argument = "--max-tokens";  // the flag named when max_tokens does not fit
};

struct Generation {
  std::vector<std::int64_t> tokens;  // generated ids, the prompt not included
  bool stopped_at_eos = false;
  double prefill_ms = 0;  // the prompt's pass and the first token
  double decode_ms = 0;   // every later token, together
  double last_token_ms = 0;
  Index decode_steps = 0;  // tokens after the first
  std::vector<double> step_ms;  // each token after the first, in order
};

// The median of `ms` (0 when empty): robust to the 100 ms stalls a shared, CPU-quota'd machine
// inserts, which the mean is not.
double median_ms(std::vector<double> ms);

// The ids the model reads for `prompt` (the words of its vocabulary): <eos> first. An unknown
// word throws mha::Error naming `argument` and the word.
std::vector<std::int64_t> prompt_ids(const LanguageModel& lm, const std::string& prompt,
                                     const std::string& argument);

// Generates after `ids` (prompt_ids()); `on_token` is called with each new id as it comes.
// Throws mha::Error naming settings.count_argument when the prompt and the tokens would pass the
// model's max_length.
Generation generate(const LanguageModel& lm, std::span<const std::int64_t> ids,
                    const GenerationSettings& settings, const Context& ctx,
                    const std::function<void(std::int64_t)>& on_token = {});

}  // namespace mha::cli
