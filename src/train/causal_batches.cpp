#include "mha/train/causal_batches.hpp"

#include <algorithm>
#include <string>

#include "mha/core/error.hpp"

namespace mha::train {
namespace {

void check_length(const lang::AttachmentGrammar& grammar, Index length) {
  // The shortest useful row: <eos> + the longest sentence + <eos>, minus the one token the shift
  // takes.
  const Index least = grammar.max_length() + 1;
  if (length < least)
    throw_invalid("length", ">= " + std::to_string(least) + " (the longest sentence and its <eos>)",
                  std::to_string(length));
}

}  // namespace

lang::Vocabulary causal_vocabulary(const lang::AttachmentGrammar& grammar) {
  const std::vector<std::string>& all = grammar.vocabulary().words();
  std::vector<std::string> words(all.begin() + 2, all.end());  // without [PAD] and [MASK]
  words.emplace_back(end_of_sentence_word);
  return lang::Vocabulary(words);
}

CausalBatch causal_batch(std::vector<std::vector<std::int64_t>> streams) {
  if (streams.empty()) throw_invalid("streams", "at least one stream", "none");
  CausalBatch out;
  out.batch = static_cast<Index>(streams.size());
  for (std::size_t b = 0; b < streams.size(); ++b) {
    if (streams[b].size() < 2)
      throw_invalid("streams[" + std::to_string(b) + "]", "at least 2 tokens",
                    std::to_string(streams[b].size()));
    out.length = std::max(out.length, static_cast<Index>(streams[b].size()) - 1);
  }
  const auto row = static_cast<std::size_t>(out.length);
  out.inputs.assign(streams.size() * row, lang::Vocabulary::pad);
  out.targets.assign(streams.size() * row, ignore_target);
  for (std::size_t b = 0; b < streams.size(); ++b) {
    const std::vector<std::int64_t>& s = streams[b];
    // inputs[t] = s[t], targets[t] = s[t + 1]: position t predicts the token after it.
    std::copy(s.begin(), s.end() - 1, out.inputs.begin() + static_cast<std::ptrdiff_t>(b * row));
    std::copy(s.begin() + 1, s.end(), out.targets.begin() + static_cast<std::ptrdiff_t>(b * row));
  }
  out.streams = std::move(streams);
  return out;
}

std::vector<std::int64_t> sample_stream(const lang::AttachmentGrammar& grammar, Index length,
                                        std::mt19937_64& rng) {
  check_length(grammar, length);
  const std::int64_t eos = end_of_sentence_id(grammar);
  const auto capacity = static_cast<std::size_t>(length + 1);
  std::vector<std::int64_t> stream{eos};
  while (true) {
    const lang::Sentence s = grammar.sample(rng);
    if (stream.size() + s.ids.size() + 1 > capacity) break;
    stream.insert(stream.end(), s.ids.begin(), s.ids.end());
    stream.push_back(eos);
  }
  return stream;
}

CausalBatch sample_causal_batch(const lang::AttachmentGrammar& grammar, Index batch, Index length,
                                std::mt19937_64& rng) {
  if (batch < 1) throw_invalid("batch", "at least 1", std::to_string(batch));
  std::vector<std::vector<std::int64_t>> streams;
  for (Index b = 0; b < batch; ++b) streams.push_back(sample_stream(grammar, length, rng));
  return causal_batch(std::move(streams));
}

CausalBatch causal_eval_batch(const lang::AttachmentGrammar& grammar, Index sentences, Index length,
                              std::uint64_t seed) {
  if (sentences < 1) throw_invalid("sentences", "at least 1", std::to_string(sentences));
  check_length(grammar, length);
  const std::int64_t eos = end_of_sentence_id(grammar);
  const auto capacity = static_cast<std::size_t>(length + 1);
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::int64_t>> streams{{eos}};
  for (Index i = 0; i < sentences; ++i) {
    const lang::Sentence s = grammar.sample(rng);
    if (streams.back().size() + s.ids.size() + 1 > capacity) streams.push_back({eos});
    std::vector<std::int64_t>& stream = streams.back();
    stream.insert(stream.end(), s.ids.begin(), s.ids.end());
    stream.push_back(eos);
  }
  return causal_batch(std::move(streams));
}

}  // namespace mha::train
