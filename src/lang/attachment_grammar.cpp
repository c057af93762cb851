// The built-in word tables of the attachment language and the relation queries over them.
// docs/language.md describes the same tables in words; keep the two in step.
#include "mha/lang/attachment_grammar.hpp"

#include <algorithm>
#include <string>

#include "mha/core/error.hpp"

namespace mha::lang {
namespace {

using Words = std::vector<std::string_view>;

// Subjects of every sentence and objects of the verbs that take people.
const Words kPersons = {"man",  "woman",  "boy",    "girl",   "astronaut",
                        "chef", "farmer", "doctor", "painter"};

struct VerbSpec {
  std::string_view verb;
  Words instruments;  // "VERB … with a X": X is what the subject used
  Words things;       // the thing nouns it takes as objects
  bool takes_persons;
};

// The PP nouns all start with a consonant, so the determiner before them is always "a".
const std::vector<VerbSpec> kVerbs = {
    {"saw", {"telescope", "binoculars", "camera"}, {}, true},
    {"watched", {"telescope", "binoculars", "camera"}, {}, true},
    {"cut", {"knife", "scissors"}, {"bread", "cake", "rope"}, false},
    {"hit", {"hammer", "stick"}, {"drum", "fence"}, true},
    {"painted", {"brush", "roller"}, {"fence", "drum"}, true},
    {"fed", {"spoon", "bottle"}, {}, true},
};

struct NounSpec {
  std::string_view noun;
  Words attributes;  // "the NOUN with a X": X is what the noun has
};

// Overlaps with the instruments make the ambiguous sentences: telescope (saw/watched ·
// astronaut), camera (saw/watched · man), stick (hit · farmer), brush (painted · painter).
// knife is an attribute of the chef and the instrument of cut, but cut takes no people, so it
// only ties the two relations through the vocabulary, never within one sentence.
const std::vector<NounSpec> kNouns = {
    {"man", {"beard", "camera"}},
    {"woman", {"scarf", "dog"}},
    {"boy", {"ball", "kite"}},
    {"girl", {"kite", "ribbon"}},
    {"astronaut", {"helmet", "telescope"}},
    {"chef", {"knife", "hat"}},
    {"farmer", {"hat", "dog", "stick"}},
    {"doctor", {"stethoscope", "bag"}},
    {"painter", {"brush", "ladder"}},
    {"bread", {"crust"}},
    {"cake", {"cherry", "candle"}},
    {"rope", {"knot"}},
    {"fence", {"gate"}},
    {"drum", {"strap"}},
};

struct BankVerbSpec {
  std::string_view verb, preposition;
};
const std::vector<BankVerbSpec> kRiverVerbs = {
    {"sat", "on"}, {"fished", "from"}, {"walked", "along"}, {"slept", "on"}};
const std::vector<BankVerbSpec> kMoneyVerbs = {{"put", "in"}, {"kept", "in"}, {"took", "from"}};
const Words kMoneyNouns = {"money", "cash", "gold"};

void add_unique(std::vector<std::string>& list, std::string_view word) {
  if (std::find(list.begin(), list.end(), word) == list.end()) list.emplace_back(word);
}

// Every word of the tables, each once, in the order it first appears; two_objects appends "and"
// last, so the standard words keep their ids.
std::vector<std::string> all_words(LanguageVariant variant) {
  std::vector<std::string> words;
  for (std::string_view w : {"the", "a", "with", "river", "bank"}) add_unique(words, w);
  for (std::string_view w : kPersons) add_unique(words, w);
  for (const VerbSpec& v : kVerbs) {
    add_unique(words, v.verb);
    for (std::string_view w : v.instruments) add_unique(words, w);
    for (std::string_view w : v.things) add_unique(words, w);
  }
  for (const NounSpec& n : kNouns) {
    add_unique(words, n.noun);
    for (std::string_view w : n.attributes) add_unique(words, w);
  }
  for (const auto* table : {&kRiverVerbs, &kMoneyVerbs}) {
    for (const BankVerbSpec& v : *table) {
      add_unique(words, v.verb);
      add_unique(words, v.preposition);
    }
  }
  for (std::string_view w : kMoneyNouns) add_unique(words, w);
  if (variant == LanguageVariant::two_objects) add_unique(words, "and");
  return words;
}

// Appended piece by piece: "\"" + word + "\"" trips GCC 12's false -Wrestrict (bug 105651).
std::string quoted(std::string_view word) {
  std::string text(1, '"');
  text.append(word).push_back('"');
  return text;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : ", ") + w;
  return text;
}

}  // namespace

std::string_view name(Reading reading) {
  switch (reading) {
    case Reading::instrument:
      return "instrument";
    case Reading::attribute:
      return "attribute";
    case Reading::none:
      return "none";
  }
  return "?";
}

std::string_view name(BankSense sense) {
  switch (sense) {
    case BankSense::none:
      return "none";
    case BankSense::river:
      return "river";
    case BankSense::money:
      return "money";
  }
  return "?";
}

std::string_view name(Role role) {
  switch (role) {
    case Role::determiner:
      return "determiner";
    case Role::subject:
      return "subject";
    case Role::verb:
      return "verb";
    case Role::object:
      return "object";
    case Role::distractor:
      return "distractor";
    case Role::conjunction:
      return "conjunction";
    case Role::preposition:
      return "preposition";
    case Role::pp_noun:
      return "pp_noun";
    case Role::bank_context:
      return "bank_context";
    case Role::bank:
      return "bank";
  }
  return "?";
}

std::string_view name(LanguageVariant variant) {
  return variant == LanguageVariant::two_objects ? "two-objects" : "attachment";
}

LanguageVariant parse_language_variant(std::string_view name, const std::string& argument) {
  if (name == "attachment") return LanguageVariant::standard;
  if (name == "two-objects") return LanguageVariant::two_objects;
  throw_invalid(argument, "attachment or two-objects", quoted(name));
}

AttachmentGrammar::AttachmentGrammar(LanguageVariant variant)
    : variant_(variant), vocabulary_(all_words(variant)) {
  const auto id = [this](std::string_view w) { return vocabulary_.id(w); };
  const auto ids = [&](const Words& words) {
    std::vector<std::int64_t> out;
    for (std::string_view w : words) out.push_back(id(w));
    return out;
  };
  the_ = id("the");
  a_ = id("a");
  with_ = id("with");
  river_ = id("river");
  bank_ = id("bank");
  if (variant_ == LanguageVariant::two_objects) and_ = id("and");
  persons_ = ids(kPersons);
  for (const VerbSpec& v : kVerbs) {
    Verb verb{.id = id(v.verb), .instruments = ids(v.instruments), .objects = ids(v.things)};
    if (v.takes_persons) verb.objects.insert(verb.objects.end(), persons_.begin(), persons_.end());
    verbs_.push_back(std::move(verb));
  }
  for (const NounSpec& n : kNouns)
    nouns_.push_back({.id = id(n.noun), .attributes = ids(n.attributes)});
  for (const BankVerbSpec& v : kRiverVerbs) river_verbs_.push_back({id(v.verb), id(v.preposition)});
  for (const BankVerbSpec& v : kMoneyVerbs) money_verbs_.push_back({id(v.verb), id(v.preposition)});
  money_nouns_ = ids(kMoneyNouns);
}

std::vector<std::int64_t> AttachmentGrammar::object_phrase(std::int64_t subject, std::int64_t verb,
                                                           std::int64_t object,
                                                           std::int64_t distractor) const {
  if (variant_ == LanguageVariant::two_objects)
    return {the_, subject, verb, the_, distractor, and_, the_, object};
  return {the_, subject, verb, the_, object};
}

std::vector<Role> AttachmentGrammar::object_phrase_roles() const {
  if (variant_ == LanguageVariant::two_objects)
    return {Role::determiner, Role::subject,     Role::verb,       Role::determiner,
            Role::distractor, Role::conjunction, Role::determiner, Role::object};
  return {Role::determiner, Role::subject, Role::verb, Role::determiner, Role::object};
}

const AttachmentGrammar::Verb* AttachmentGrammar::find_verb(std::int64_t id) const {
  for (const Verb& v : verbs_) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

const AttachmentGrammar::Noun* AttachmentGrammar::find_noun(std::int64_t id) const {
  for (const Noun& n : nouns_) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::vector<std::string> AttachmentGrammar::words_of(std::span<const std::int64_t> ids) const {
  std::vector<std::string> words;
  for (std::int64_t i : ids) words.push_back(vocabulary_.word(i));
  return words;
}

std::vector<std::string> AttachmentGrammar::verbs() const {
  std::vector<std::string> words;
  for (const Verb& v : verbs_) words.push_back(vocabulary_.word(v.id));
  return words;
}

const AttachmentGrammar::Verb& AttachmentGrammar::verb_named(std::string_view verb) const {
  const Verb* v = vocabulary_.contains(verb) ? find_verb(vocabulary_.id(verb)) : nullptr;
  if (v == nullptr) {
    throw_invalid("verb", "an attachment verb (" + joined(verbs()) + ")", quoted(verb));
  }
  return *v;
}

const AttachmentGrammar::Noun& AttachmentGrammar::noun_named(std::string_view noun) const {
  const Noun* n = vocabulary_.contains(noun) ? find_noun(vocabulary_.id(noun)) : nullptr;
  if (n == nullptr) {
    std::vector<std::string> nouns;
    for (const Noun& each : nouns_) nouns.push_back(vocabulary_.word(each.id));
    throw_invalid("noun", "an object noun (" + joined(nouns) + ")", quoted(noun));
  }
  return *n;
}

std::vector<std::string> AttachmentGrammar::objects(std::string_view verb) const {
  return words_of(verb_named(verb).objects);
}

std::vector<std::string> AttachmentGrammar::instruments(std::string_view verb) const {
  return words_of(verb_named(verb).instruments);
}

std::vector<std::string> AttachmentGrammar::attributes(std::string_view noun) const {
  return words_of(noun_named(noun).attributes);
}

}  // namespace mha::lang
