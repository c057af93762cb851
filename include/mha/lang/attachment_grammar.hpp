// AttachmentGrammar: the synthetic prepositional-phrase attachment language (docs/language.md).
//
// Two sentence families, word level, no punctuation:
//   attachment: the SUBJ VERB the OBJ [with a PPN]
//       "the man saw the astronaut with a telescope"
//     PPN is an instrument of VERB (reading instrument) or an attribute of OBJ (reading
//     attribute); when it is both, the sentence is ambiguous.
//   bank: the SUBJ RVERB PREP the river bank      "the girl sat on the river bank"
//         the SUBJ MVERB MONEY PREP the bank      "the woman put money in the bank"
//     one word "bank", two senses told apart by the context word (river / money, cash, gold).
// The two_objects variant (LanguageVariant) gives every attachment sentence a second object:
//   the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN]
//       "the man saw the chef and the astronaut with a helmet"
//     PPN ∈ instruments(VERB) ∪ attributes(OBJ2): the PP attaches to the verb or to the nearest
//     object; OBJ1 is a distractor of the same kind whose attributes do not count.
// Sampling probabilities are the constants below; every sentence has at most max_length() tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/shape.hpp"
#include "mha/lang/vocabulary.hpp"

namespace mha::lang {

// How the PP of an attachment sentence was generated; none for no PP and for bank sentences.
enum class Reading { instrument, attribute, none };

enum class BankSense { none, river, money };

// Which attachment language (docs/language.md#the-two-objects-variant).
//   standard     the SUBJ VERB the OBJ [with a PPN] — the language the demo models were trained on
//   two_objects  the SUBJ VERB the OBJ1 and the OBJ2 [with a PPN], PPN ∈ instruments(VERB) ∪
//                attributes(OBJ2); one more word ("and"), sentences up to 11 tokens
enum class LanguageVariant : std::uint8_t { standard, two_objects };

// What each token is in its sentence.
//   determiner   the, a
//   subject      the person doing the action
//   verb         the action (attachment or bank verb)
//   object       the object of an attachment verb; in two_objects the second, nearest one, the
//                only object the PP can attach to
//   distractor   two_objects: the first object ("the OBJ1 and …"), an object of the verb whose
//                attributes do not license the PP noun
//   conjunction  two_objects: "and"
//   preposition  "with", or the bank verb's preposition (on, from, along, in)
//   pp_noun      the noun after "with a" — the token that needs two relations
//   bank_context the word that decides the sense of "bank": river, or money/cash/gold
//   bank         the word "bank"
// bank stays the last value: mha/train/head_ablation counts the roles up to it.
enum class Role {
  determiner, subject, verb, object, distractor, conjunction, preposition, pp_noun, bank_context,
  bank
};

std::string_view name(Reading reading);
std::string_view name(BankSense sense);
std::string_view name(Role role);
// "attachment" (standard) and "two-objects": the names of `mha train --language` and of the
// training JSON's "language".
std::string_view name(LanguageVariant variant);
// Throws mha::Error naming `argument` for another name.
LanguageVariant parse_language_variant(std::string_view name,
                                       const std::string& argument = "language");

struct Sentence {
  std::vector<std::int64_t> ids;
  std::vector<Role> roles;  // one per id
  Reading reading = Reading::none;
  // The PP noun fits both instruments(verb) and attributes(object): both readings derive it.
  bool ambiguous = false;
  BankSense bank_sense = BankSense::none;
};

// What the recognizer finds in a derivable sentence.
struct Analysis {
  std::vector<Role> roles;
  bool instrument_fits = false;  // a PP noun in instruments(verb)
  bool attribute_fits = false;   // a PP noun in attributes(object) (two_objects: OBJ2's)
  BankSense bank_sense = BankSense::none;
  bool ambiguous() const { return instrument_fits && attribute_fits; }
};

class AttachmentGrammar {
 public:
  // Sampling probabilities (docs/language.md). A sentence is a bank sentence with
  // bank_probability, else an attachment sentence whose reading is drawn from the three below.
  static constexpr double bank_probability = 0.20;
  static constexpr double river_probability = 0.50;  // of bank sentences; the rest money
  static constexpr double instrument_probability = 0.45;
  static constexpr double attribute_probability = 0.45;
  static constexpr double no_pp_probability = 0.10;

  // Builds the built-in grammar and its vocabulary. The standard vocabulary has 69 ids; the
  // two_objects one appends "and" (id 69), so every other word keeps its id.
  explicit AttachmentGrammar(LanguageVariant variant = LanguageVariant::standard);

  LanguageVariant variant() const { return variant_; }
  const Vocabulary& vocabulary() const { return vocabulary_; }

  // One sentence; a pure function of the engine state (only rng() is called, mapped by our own
  // arithmetic, so the stream is the same with every standard library).
  Sentence sample(std::mt19937_64& rng) const;

  // The recognizer: nullopt unless `ids` is a sentence of the language.
  std::optional<Analysis> analyze(std::span<const std::int64_t> ids) const;
  bool derivable(std::span<const std::int64_t> ids) const { return analyze(ids).has_value(); }

  // Every word id w (never a special) such that `ids` with w at `position` is derivable,
  // ascending. The id already at `position` is ignored. Throws mha::Error naming "position"
  // outside [0, ids.size()).
  std::vector<std::int64_t> allowed_at(std::span<const std::int64_t> ids, Index position) const;

  // The longest sentence, in tokens: 8, two_objects 11.
  Index max_length() const { return variant_ == LanguageVariant::two_objects ? 11 : 8; }

  // Every sentence of the language (it is finite: 2,556 standard, 20,835 two_objects), in a
  // fixed order — the
  // templates in turn, each over its tables in declaration order. For the language model's
  // next-token checks (mha/train/next_token_grammar.hpp); every one is derivable().
  std::vector<std::vector<std::int64_t>> sentences() const;

  // The relation tables. verbs(): the attachment verbs. objects/instruments throw mha::Error
  // naming "verb" for a word that is not an attachment verb; attributes throws naming "noun"
  // for a word that is not an object noun.
  std::vector<std::string> verbs() const;
  std::vector<std::string> objects(std::string_view verb) const;
  std::vector<std::string> instruments(std::string_view verb) const;
  std::vector<std::string> attributes(std::string_view noun) const;

 private:
  struct Verb {
    std::int64_t id = 0;
    std::vector<std::int64_t> instruments, objects;
  };
  struct Noun {
    std::int64_t id = 0;
    std::vector<std::int64_t> attributes;
  };
  struct BankVerb {
    std::int64_t id = 0, preposition = 0;
  };

  const Verb* find_verb(std::int64_t id) const;
  const Noun* find_noun(std::int64_t id) const;
  const Verb& verb_named(std::string_view verb) const;  // throws naming "verb"
  const Noun& noun_named(std::string_view noun) const;  // throws naming "noun"
  std::optional<Analysis> analyze_attachment(std::span<const std::int64_t> ids) const;
  std::optional<Analysis> analyze_bank(std::span<const std::int64_t> ids) const;
  Sentence sample_attachment(std::mt19937_64& rng) const;
  Sentence sample_bank(std::mt19937_64& rng) const;
  std::vector<std::string> words_of(std::span<const std::int64_t> ids) const;

  // The tokens before the object the PP attaches to: "the SUBJ VERB the" (4), two_objects
  // "the SUBJ VERB the OBJ1 and the" (7).
  std::size_t object_position() const { return variant_ == LanguageVariant::two_objects ? 7 : 4; }
  // The words and roles up to and including the object; `distractor` (OBJ1) is only used by
  // two_objects.
  std::vector<std::int64_t> object_phrase(std::int64_t subject, std::int64_t verb,
                                          std::int64_t object, std::int64_t distractor) const;
  std::vector<Role> object_phrase_roles() const;

  LanguageVariant variant_;
  Vocabulary vocabulary_;
  std::int64_t the_ = 0, a_ = 0, with_ = 0, river_ = 0, bank_ = 0;
  std::int64_t and_ = -1;  // two_objects only
  std::vector<std::int64_t> persons_;
  std::vector<Verb> verbs_;
  std::vector<Noun> nouns_;
  std::vector<BankVerb> river_verbs_, money_verbs_;
  std::vector<std::int64_t> money_nouns_;
};

}  // namespace mha::lang
