// The whole attachment language, enumerated from the same tables the recognizer checks
// (src/lang/attachment_recognizer.cpp): the three templates, each word drawn from its table.
#include <algorithm>

#include "mha/lang/attachment_grammar.hpp"

namespace mha::lang {

std::vector<std::vector<std::int64_t>> AttachmentGrammar::sentences() const {
  std::vector<std::vector<std::int64_t>> out;
  for (const std::int64_t person : persons_) {
    // the SUBJ VERB the OBJ [with a PPN], PPN ∈ instruments(VERB) ∪ attributes(OBJ);
    // two_objects: the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN], each OBJ1 ≠ OBJ2 in turn.
    for (const Verb& verb : verbs_) {
      const bool two = variant_ == LanguageVariant::two_objects;
      for (const std::int64_t first : verb.objects) {
        for (const std::int64_t second : two ? verb.objects : std::vector<std::int64_t>{first}) {
          if (two && second == first) continue;
          const std::int64_t object = two ? second : first;
          const std::vector<std::int64_t> phrase = object_phrase(person, verb.id, object, first);
          out.push_back(phrase);
          std::vector<std::int64_t> pp_nouns = verb.instruments;
          if (const Noun* noun = find_noun(object))
            pp_nouns.insert(pp_nouns.end(), noun->attributes.begin(), noun->attributes.end());
          std::sort(pp_nouns.begin(), pp_nouns.end());
          pp_nouns.erase(std::unique(pp_nouns.begin(), pp_nouns.end()), pp_nouns.end());
          for (const std::int64_t pp_noun : pp_nouns) {
            std::vector<std::int64_t> sentence = phrase;
            sentence.insert(sentence.end(), {with_, a_, pp_noun});
            out.push_back(std::move(sentence));
          }
        }
      }
    }
    // the SUBJ RVERB PREP the river bank   |   the SUBJ MVERB MONEY PREP the bank
    for (const BankVerb& v : river_verbs_) out.push_back({the_, person, v.id, v.preposition, the_, river_, bank_});
    for (const BankVerb& v : money_verbs_) {
      for (const std::int64_t money : money_nouns_)
        out.push_back({the_, person, v.id, money, v.preposition, the_, bank_});
    }
  }
  return out;
}

}  // namespace mha::lang
