// The recognizer of the attachment language: a sentence is derivable when it matches one of the
// three templates and every word is allowed by the relation tables. The templates have fixed
// lengths (5 or 8 attachment — two_objects 8 or 11 — and 7 bank), so recognition is a
// position-by-position check.
#include <algorithm>
#include <string>

#include "mha/core/error.hpp"
#include "mha/lang/attachment_grammar.hpp"

namespace mha::lang {
namespace {

bool in(const std::vector<std::int64_t>& list, std::int64_t id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

// the SUBJ VERB the OBJ [with a PPN], PPN ∈ instruments(VERB) ∪ attributes(OBJ);
// two_objects: the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN], OBJ1 ≠ OBJ2 both objects of
// VERB, PPN ∈ instruments(VERB) ∪ attributes(OBJ2).
std::optional<Analysis> AttachmentGrammar::analyze_attachment(
    std::span<const std::int64_t> ids) const {
  const std::size_t object_at = object_position();  // 4, two_objects 7
  if (ids.size() != object_at + 1 && ids.size() != object_at + 4) return std::nullopt;
  const Verb* verb = find_verb(ids[2]);
  if (ids[0] != the_ || !in(persons_, ids[1]) || verb == nullptr || ids[3] != the_ ||
      ids[object_at - 1] != the_ || !in(verb->objects, ids[object_at])) {
    return std::nullopt;
  }
  if (variant_ == LanguageVariant::two_objects &&
      (!in(verb->objects, ids[4]) || ids[4] == ids[object_at] || ids[5] != and_)) {
    return std::nullopt;
  }
  Analysis analysis;
  analysis.roles = object_phrase_roles();
  if (ids.size() == object_at + 1) return analysis;
  const std::size_t pp_at = object_at + 3;
  if (ids[object_at + 1] != with_ || ids[object_at + 2] != a_) return std::nullopt;
  const Noun* object = find_noun(ids[object_at]);
  analysis.instrument_fits = in(verb->instruments, ids[pp_at]);
  analysis.attribute_fits = object != nullptr && in(object->attributes, ids[pp_at]);
  if (!analysis.instrument_fits && !analysis.attribute_fits) return std::nullopt;
  analysis.roles.insert(analysis.roles.end(), {Role::preposition, Role::determiner, Role::pp_noun});
  return analysis;
}

// the SUBJ RVERB PREP the river bank   |   the SUBJ MVERB MONEY PREP the bank
std::optional<Analysis> AttachmentGrammar::analyze_bank(std::span<const std::int64_t> ids) const {
  if (ids.size() != 7 || ids[0] != the_ || !in(persons_, ids[1]) || ids[6] != bank_) {
    return std::nullopt;
  }
  const auto pair_in = [](const std::vector<BankVerb>& verbs, std::int64_t v, std::int64_t p) {
    return std::any_of(verbs.begin(), verbs.end(),
                       [&](const BankVerb& b) { return b.id == v && b.preposition == p; });
  };
  Analysis analysis;
  if (pair_in(river_verbs_, ids[2], ids[3]) && ids[4] == the_ && ids[5] == river_) {
    analysis.bank_sense = BankSense::river;
    analysis.roles = {Role::determiner, Role::subject,      Role::verb, Role::preposition,
                      Role::determiner, Role::bank_context, Role::bank};
    return analysis;
  }
  if (in(money_nouns_, ids[3]) && pair_in(money_verbs_, ids[2], ids[4]) && ids[5] == the_) {
    analysis.bank_sense = BankSense::money;
    analysis.roles = {Role::determiner,  Role::subject,    Role::verb, Role::bank_context,
                      Role::preposition, Role::determiner, Role::bank};
    return analysis;
  }
  return std::nullopt;
}

std::optional<Analysis> AttachmentGrammar::analyze(std::span<const std::int64_t> ids) const {
  if (auto analysis = analyze_attachment(ids)) return analysis;
  return analyze_bank(ids);
}

std::vector<std::int64_t> AttachmentGrammar::allowed_at(std::span<const std::int64_t> ids,
                                                        Index position) const {
  const auto length = static_cast<Index>(ids.size());
  if (position < 0 || position >= length) {
    throw_invalid("position", "an index in [0, " + std::to_string(length) + ")",
                  std::to_string(position));
  }
  // Brute force over the vocabulary: ~70 words × a fixed-length check is cheap, and it cannot
  // disagree with the recognizer.
  std::vector<std::int64_t> candidate(ids.begin(), ids.end());
  std::vector<std::int64_t> allowed;
  for (std::int64_t w = Vocabulary::mask + 1; w < vocabulary_.size(); ++w) {
    candidate[static_cast<std::size_t>(position)] = w;
    if (derivable(candidate)) allowed.push_back(w);
  }
  return allowed;
}

}  // namespace mha::lang
