#include "mha/train/masked_batches.hpp"

#include <algorithm>
#include <string>

#include "mha/core/error.hpp"
#include "core/random_draws.hpp"

namespace mha::train {
namespace {

// An empty batch of `sentences`, every position padding until a row is written.
MaskedBatch padded_batch(std::vector<lang::Sentence> sentences) {
  MaskedBatch out;
  out.batch = static_cast<Index>(sentences.size());
  for (const lang::Sentence& s : sentences) {
    out.length = std::max(out.length, static_cast<Index>(s.ids.size()));
  }
  const auto cells = static_cast<std::size_t>(out.batch * out.length);
  out.inputs.assign(cells, lang::Vocabulary::pad);
  out.targets.assign(cells, ignore_target);
  out.padding.assign(cells, 1);
  for (std::size_t b = 0; b < sentences.size(); ++b) {
    const std::size_t row = b * static_cast<std::size_t>(out.length);
    for (std::size_t t = 0; t < sentences[b].ids.size(); ++t) {
      out.inputs[row + t] = sentences[b].ids[t];
      out.padding[row + t] = 0;
    }
  }
  out.sentences = std::move(sentences);
  return out;
}

void mask_at(MaskedBatch& out, std::size_t row, std::size_t t) {
  const std::size_t cell = row * static_cast<std::size_t>(out.length) + t;
  out.targets[cell] = out.inputs[cell];
  out.inputs[cell] = lang::Vocabulary::mask;
}

bool is_content(lang::Role role) {
  return role == lang::Role::subject || role == lang::Role::verb || role == lang::Role::object ||
         role == lang::Role::distractor || role == lang::Role::bank_context ||
         role == lang::Role::bank;
}

std::size_t position_of(const lang::Sentence& s, lang::Role role) {
  return static_cast<std::size_t>(std::find(s.roles.begin(), s.roles.end(), role) -
                                  s.roles.begin());
}

}  // namespace

MaskedBatch sample_masked_batch(const lang::AttachmentGrammar& grammar, Index batch, std::mt19937_64& rng,
                                double mask_probability) {
  if (batch < 1) throw_invalid("batch", "at least 1", std::to_string(batch));
  if (!(mask_probability >= 0.0 && mask_probability <= 1.0)) {
    throw_invalid("mask_probability", "a probability in [0, 1]", std::to_string(mask_probability));
  }
  // Sentences first, then masks, each in a fixed order: one seed, one batch.
  std::vector<lang::Sentence> sentences;
  for (Index b = 0; b < batch; ++b) sentences.push_back(grammar.sample(rng));
  MaskedBatch out = padded_batch(std::move(sentences));
  for (std::size_t b = 0; b < out.sentences.size(); ++b) {
    const std::size_t length = out.sentences[b].ids.size();
    bool any = false;
    for (std::size_t t = 0; t < length; ++t) {
      if (uniform_unit(rng) < mask_probability) {
        mask_at(out, b, t);
        any = true;
      }
    }
    if (!any) mask_at(out, b, uniform_index(rng, length));
  }
  return out;
}

std::vector<EvalExample> make_eval_set(const lang::AttachmentGrammar& grammar, Index count,
                                       std::uint64_t seed) {
  if (count < 0) throw_invalid("count", "at least 0", std::to_string(count));
  std::mt19937_64 rng(seed);
  std::vector<EvalExample> examples;
  for (Index i = 0; i < count; ++i) {
    EvalExample e;
    e.two_relations = i % 3 == 0;
    e.sentence = grammar.sample(rng);
    if (e.two_relations) {
      // 72% of sentences have a PP (0.8 × 0.9), so this loop ends after ~1.4 draws.
      while (std::find(e.sentence.roles.begin(), e.sentence.roles.end(), lang::Role::pp_noun) ==
             e.sentence.roles.end()) {
        e.sentence = grammar.sample(rng);
      }
      e.position = static_cast<Index>(position_of(e.sentence, lang::Role::pp_noun));
    } else {
      std::vector<std::size_t> content;
      for (std::size_t t = 0; t < e.sentence.roles.size(); ++t) {
        if (is_content(e.sentence.roles[t])) content.push_back(t);
      }
      e.position = static_cast<Index>(content[uniform_index(rng, content.size())]);
    }
    e.target = e.sentence.ids[static_cast<std::size_t>(e.position)];
    e.allowed = grammar.allowed_at(e.sentence.ids, e.position);
    examples.push_back(std::move(e));
  }
  return examples;
}

MaskedBatch eval_batch(std::span<const EvalExample> examples) {
  if (examples.empty()) throw_invalid("examples", "at least one example", "none");
  std::vector<lang::Sentence> sentences;
  for (std::size_t b = 0; b < examples.size(); ++b) {
    const Index length = static_cast<Index>(examples[b].sentence.ids.size());
    if (examples[b].position < 0 || examples[b].position >= length) {
      throw_invalid("examples[" + std::to_string(b) + "].position",
                    "an index in [0, " + std::to_string(length) + ")",
                    std::to_string(examples[b].position));
    }
    sentences.push_back(examples[b].sentence);
  }
  MaskedBatch out = padded_batch(std::move(sentences));
  for (std::size_t b = 0; b < examples.size(); ++b) {
    mask_at(out, b, static_cast<std::size_t>(examples[b].position));
  }
  return out;
}

}  // namespace mha::train
