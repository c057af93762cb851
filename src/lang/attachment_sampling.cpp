// Sampling sentences of the attachment language. Each draw is rng() mapped by random_draws.hpp,
// in a fixed order, so a seed gives the same sentences with every standard library.
#include <algorithm>

#include "mha/lang/attachment_grammar.hpp"
#include "core/random_draws.hpp"

namespace mha::lang {
namespace {

std::int64_t pick(std::mt19937_64& rng, const std::vector<std::int64_t>& ids) {
  return ids[uniform_index(rng, ids.size())];
}

bool in(const std::vector<std::int64_t>& list, std::int64_t id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

Sentence AttachmentGrammar::sample(std::mt19937_64& rng) const {
  return uniform_unit(rng) < bank_probability ? sample_bank(rng) : sample_attachment(rng);
}

// SUBJ uniform over persons, VERB uniform, OBJ uniform over objects(VERB), then the reading:
// P(instrument) = 0.45, P(attribute) = 0.45, P(no PP) = 0.10, and the PP noun uniform over
// instruments(VERB) or attributes(OBJ).
// two_objects: after VERB, OBJ1 uniform over objects(VERB), then OBJ2 uniform over the others,
// and the attribute reading draws from attributes(OBJ2). The PP noun is therefore always in
// instruments(VERB) ∪ attributes(OBJ2), never an attribute of the distractor OBJ1 alone.
Sentence AttachmentGrammar::sample_attachment(std::mt19937_64& rng) const {
  const std::int64_t subject = pick(rng, persons_);
  const Verb& verb = verbs_[uniform_index(rng, verbs_.size())];
  std::int64_t object = pick(rng, verb.objects), distractor = -1;
  if (variant_ == LanguageVariant::two_objects) {
    // Every verb has at least two objects (cut: bread, cake, rope), so OBJ2 always exists.
    distractor = object;
    const std::size_t first = static_cast<std::size_t>(
        std::find(verb.objects.begin(), verb.objects.end(), distractor) - verb.objects.begin());
    const std::size_t other = uniform_index(rng, verb.objects.size() - 1);
    object = verb.objects[other < first ? other : other + 1];
  }
  Sentence s;
  s.ids = object_phrase(subject, verb.id, object, distractor);
  s.roles = object_phrase_roles();
  const double u = uniform_unit(rng);
  if (u >= instrument_probability + attribute_probability) return s;  // reading none
  const Noun* noun = find_noun(object);
  s.reading = u < instrument_probability ? Reading::instrument : Reading::attribute;
  const std::int64_t pp_noun =
      pick(rng, s.reading == Reading::instrument ? verb.instruments : noun->attributes);
  s.ambiguous = in(verb.instruments, pp_noun) && in(noun->attributes, pp_noun);
  s.ids.insert(s.ids.end(), {with_, a_, pp_noun});
  s.roles.insert(s.roles.end(), {Role::preposition, Role::determiner, Role::pp_noun});
  return s;
}

// SUBJ uniform, sense river with probability 0.5, the (verb, preposition) pair uniform within
// the sense, and for money the money noun uniform.
Sentence AttachmentGrammar::sample_bank(std::mt19937_64& rng) const {
  const std::int64_t subject = pick(rng, persons_);
  Sentence s;
  if (uniform_unit(rng) < river_probability) {
    const BankVerb& v = river_verbs_[uniform_index(rng, river_verbs_.size())];
    s.bank_sense = BankSense::river;
    s.ids = {the_, subject, v.id, v.preposition, the_, river_, bank_};
    s.roles = {Role::determiner, Role::subject,      Role::verb, Role::preposition,
               Role::determiner, Role::bank_context, Role::bank};
  } else {
    const BankVerb& v = money_verbs_[uniform_index(rng, money_verbs_.size())];
    const std::int64_t money = pick(rng, money_nouns_);
    s.bank_sense = BankSense::money;
    s.ids = {the_, subject, v.id, money, v.preposition, the_, bank_};
    s.roles = {Role::determiner,  Role::subject,    Role::verb, Role::bank_context,
               Role::preposition, Role::determiner, Role::bank};
  }
  return s;
}

}  // namespace mha::lang
