#include "lm_generation.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include "mha/train/causal_batches.hpp"

namespace mha::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The logits of the last position of `logits` [1, n, V].
std::span<const float> last_row(const Tensor<>& logits) {
  const Index vocab = logits.dim(2);
  return {logits.data() + (logits.dim(1) - 1) * vocab, static_cast<std::size_t>(vocab)};
}

// The next token's logits without a cache: the whole causal forward of `ids` [1, n].
Tensor<> forward_logits(const Transformer& model, const std::vector<std::int64_t>& ids, const Context& ctx) {
  const TensorView<const std::int64_t> view(ids.data(), {1, static_cast<Index>(ids.size())});
  return model.forward({.input_ids = view},
                       {.output_hidden_states = false, .output_attentions = false, .output_query_key = false},
                       ctx)
      .logits;
}

// One untimed pass over the prompt (and, with a cache, one single-token step) before the timed
// loop: oneDNN creates a primitive per matrix shape on first use, which costs far more than
// running these small matmuls, and would otherwise be counted as the prompt's prefill.
void warm_up(const Transformer& model, std::span<const std::int64_t> prompt, const std::optional<CacheDtype>& dtype,
             const Context& ctx) {
  const auto length = static_cast<Index>(prompt.size());
  if (!dtype) {
    forward_logits(model, std::vector<std::int64_t>(prompt.begin(), prompt.end()), ctx);
    return;
  }
  TransformerCache scratch = model.make_cache(1, length + 1, *dtype);
  model.decode(TensorView<const std::int64_t>(prompt.data(), {1, length}), scratch, {}, ctx);
  model.decode(TensorView<const std::int64_t>(prompt.data(), {1, 1}), scratch, {}, ctx);
}

}  // namespace

double median_ms(std::vector<double> ms) {
  if (ms.empty()) return 0;
  const auto middle = ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2);
  std::nth_element(ms.begin(), middle, ms.end());
  return *middle;
}

LanguageModel load_language_model(const std::string& name, const std::string& argument) {
  const std::optional<BuiltInModel> built_in = built_in_named(name);
  return as_language_model(built_in ? load_built_in(*built_in) : load_model_file(name, argument), name, argument);
}

LanguageModel as_language_model(DemoModel model, const std::string& name, const std::string& argument) {
  LanguageModel lm{std::move(model), 0};
  if (!lm.model.model.config().causal)
    throw_invalid(argument, "a causal language model (mha train --objective causal-lm, or demo-lm)",
                  "'" + name + "', an encoder (causal = false)");
  if (!lm.model.vocabulary.contains(train::end_of_sentence_word))
    throw_invalid(argument, "a vocabulary with " + std::string(train::end_of_sentence_word),
                  "'" + name + "' without it");
  lm.end_of_sentence = lm.model.vocabulary.id(train::end_of_sentence_word);
  return lm;
}

std::vector<std::int64_t> prompt_ids(const LanguageModel& lm, const std::string& prompt,
                                     const std::string& argument) {
  std::vector<std::int64_t> ids{lm.end_of_sentence};
  for (const std::int64_t id : lm.model.vocabulary.encode(prompt, argument)) ids.push_back(id);
  return ids;
}

Generation generate(const LanguageModel& lm, std::span<const std::int64_t> prompt,
                    const GenerationSettings& s, const Context& ctx,
                    const std::function<void(std::int64_t)>& on_token) {
  train::validate(s.sampling);
  const Transformer& model = lm.model.model;
  const auto prompt_length = static_cast<Index>(prompt.size());
  // The last generated token is never fed back, so the model reads prompt + max_tokens − 1.
  const Index most = model.config().max_length - prompt_length + 1;
  if (s.max_tokens < 1 || s.max_tokens > most)
    throw_invalid(s.count_argument,
                  "in [1, " + std::to_string(most) + "] after a prompt of " + std::to_string(prompt_length) +
                      " tokens with <eos> (the model's max_length " + std::to_string(model.config().max_length) + ")",
                  std::to_string(s.max_tokens));
  std::mt19937_64 rng(s.seed);
  Generation g;
  std::vector<std::int64_t> ids(prompt.begin(), prompt.end());
  warm_up(model, prompt, s.cache, ctx);
  std::optional<TransformerCache> cache;
  if (s.cache) cache = model.make_cache(1, prompt_length + s.max_tokens - 1, *s.cache);
  for (Index step = 0; step < s.max_tokens; ++step) {
    const auto start = Clock::now();
    Tensor<> logits;
    if (!cache) {
      logits = forward_logits(model, ids, ctx);
    } else {
      // Prefill: the whole prompt; then only the token generated last.
      const std::span<const std::int64_t> fresh =
          step == 0 ? std::span<const std::int64_t>(ids) : std::span<const std::int64_t>(ids).last(1);
      const TensorView<const std::int64_t> view(fresh.data(), {1, static_cast<Index>(fresh.size())});
      logits = model.decode(view, *cache, {}, ctx);
    }
    const std::int64_t token = train::sample_token(last_row(logits), s.sampling, rng);
    const double ms = ms_since(start);
    if (step == 0) {
      g.prefill_ms = ms;
    } else {
      g.decode_ms += ms;
      ++g.decode_steps;
      g.step_ms.push_back(ms);
    }
    g.last_token_ms = ms;
    ids.push_back(token);
    g.tokens.push_back(token);
    if (on_token) on_token(token);
    if (token == lm.end_of_sentence && !s.ignore_eos) {
      g.stopped_at_eos = true;
      break;
    }
  }
  return g;
}

}  // namespace mha::cli
