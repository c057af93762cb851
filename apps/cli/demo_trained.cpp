// mha demo (default) — a sentence of the attachment language through two trained models that
// differ only in how attention is split: 4 heads of 16 vs 1 head of 64 (2 layers, d_model 64,
// the same parameter count), both built into the binary.
//
//   (a) where the focus word ("telescope") looks in every head: its row of each attention table,
//       and which relation the head links it by — to the verb/subject (the instrument reading,
//       "saw … with a telescope") or to the object (the attribute reading, "the astronaut with a
//       telescope"); the sentence's roles come from the grammar's recognizer
//       and how much each head matters: the rise of the held-out loss on PP nouns (and overall)
//       when the head's output is zeroed, and the relation it carries (mha/train/head_ablation.hpp,
//       on a small held-out set so that the demo stays fast)
//   (b) the 4-head model's tables of one layer, (c) the 1-head model's table, (d) the cost
#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "demo.hpp"
#include "demo_models.hpp"
#include "head_importance.hpp"
#include "mha/lang/attachment_grammar.hpp"
#include "mha/train/causal_batches.hpp"
#include "mha/train/head_ablation.hpp"
#include "mha/viz/head_view_html.hpp"
#include "mha/viz/query_key.hpp"

namespace mha::cli {
namespace {

struct Sentence {
  std::vector<std::int64_t> ids;
  std::vector<std::string> tokens;
  std::optional<lang::Analysis> analysis;  // when the sentence is in the language
};

Sentence read_sentence(const DemoArgs& args, const DemoModel& m) {
  Sentence s;
  s.ids = m.vocabulary.encode(args.text, "--text");
  if (s.ids.empty()) throw_invalid("--text", "at least one word", "'" + args.text + "'");
  if (static_cast<Index>(s.ids.size()) > m.model.config().max_length)
    throw_invalid("--text", "at most " + std::to_string(m.model.config().max_length) + " words",
                  std::to_string(s.ids.size()));
  for (const std::int64_t id : s.ids) s.tokens.push_back(m.vocabulary.word(id));
  const lang::AttachmentGrammar grammar;
  if (grammar.vocabulary().words() == m.vocabulary.words()) s.analysis = grammar.analyze(s.ids);
  return s;
}

std::optional<Index> position_of(const Sentence& s, lang::Role role) {
  if (!s.analysis) return std::nullopt;
  const auto& roles = s.analysis->roles;
  const auto it = std::find(roles.begin(), roles.end(), role);
  if (it == roles.end()) return std::nullopt;
  return static_cast<Index>(it - roles.begin());
}

Index focus_position(const DemoArgs& args, const Sentence& s) {
  if (!args.focus.empty()) {
    const auto it = std::find(s.tokens.begin(), s.tokens.end(), args.focus);
    if (it == s.tokens.end())
      throw_invalid("--focus", "a word of --text", "'" + args.focus + "'");
    return static_cast<Index>(it - s.tokens.begin());
  }
  return position_of(s, lang::Role::pp_noun).value_or(static_cast<Index>(s.tokens.size()) - 1);
}

// Held-out examples of the demo's ablation: a third of `mha heads --ablate`'s 900, which keeps
// the twelve forwards (4-head model: 1 + 8, 1-head model: 1 + 2) at about a quarter of a second
// on one core.
constexpr Index demo_ablation_examples = 300;

struct Run {
  const DemoModel* model;
  EncoderOutput out;  // attentions per layer: [1, H, L, L]
  std::optional<train::HeadAblation> ablation;  // when the model speaks the attachment language
};

// Head ablation of a model of the attachment language; none for another vocabulary.
std::optional<train::HeadAblation> ablation_of(const DemoModel& m, const Context& ctx) {
  const lang::AttachmentGrammar grammar;
  const std::vector<std::string>& expected = m.model.config().causal ? train::causal_vocabulary(grammar).words()
                                                                      : grammar.vocabulary().words();
  if (m.vocabulary.words() != expected) return std::nullopt;
  train::AblationOptions options;
  options.examples = demo_ablation_examples;
  return train::head_ablation(m.model, grammar, options, ctx);
}

// The model's attention tables on the sentence, with each layer's queries and keys for the head
// view when query_key is set.
Run run_model(const DemoModel& m, const Sentence& s, bool query_key, const Context& ctx) {
  const auto len = static_cast<Index>(s.ids.size());
  const TensorView<const std::int64_t> ids(s.ids.data(), {1, len});
  return {&m,
          m.model.encode({.input_ids = ids},
                         {.output_hidden_states = false, .output_attentions = true, .output_query_key = query_key}, ctx),
          std::nullopt};
}

// [H, L, L] of layer l (0-based) of a batch-of-one run.
TensorView<const float> layer_tables(const Run& r, Index l) {
  const Tensor<>& a = r.out.attentions[static_cast<std::size_t>(l)];
  return {a.data(), {a.dim(1), a.dim(2), a.dim(3)}};
}

// The verdict for one head's focus row: which of the two readings it supports, if any.
std::string reading_of(TensorView<const float> row, const Sentence& s, const DemoPrinter& names) {
  const auto verb = position_of(s, lang::Role::verb), subject = position_of(s, lang::Role::subject),
             object = position_of(s, lang::Role::object);
  Index strongest = 0;
  for (Index j = 1; j < row.dim(0); ++j)
    if (row(j) > row(strongest)) strongest = j;
  if (!verb || !object) return fmt::format("→ {}", names.key_name(strongest));
  const double to_verb = row(*verb) + (subject ? row(*subject) : 0.0f), to_object = row(*object);
  // A head "links" the focus word when that side holds at least a quarter of its attention.
  if (std::max(to_verb, to_object) < 0.25) return fmt::format("→ elsewhere ({})", names.key_name(strongest));
  return to_verb > to_object
             ? fmt::format("→ {}/{}: instrument", names.key_name(*verb), subject ? names.key_name(*subject) : "")
             : fmt::format("→ {}: attribute", names.key_name(*object));
}

void print_focus_rows(const std::vector<Run>& runs, const Sentence& s, Index focus,
                      const DemoPrinter& names) {
  const auto len = static_cast<Index>(s.tokens.size());
  std::vector<std::size_t> widths;
  std::string header = fmt::format("    {:<18}", "");
  for (Index j = 0; j < len; ++j) {
    widths.push_back(std::max<std::size_t>(6, names.key_name(j).size() + 1));
    header += fmt::format("{:>{}}", names.key_name(j), widths.back());
  }
  fmt::print("{}\n", header);
  for (const Run& r : runs) {
    const TransformerConfig& c = r.model->model.config();
    for (Index l = 0; l < c.num_layers; ++l) {
      const TensorView<const float> tables = layer_tables(r, l);
      for (Index h = 0; h < c.num_heads; ++h) {
        const TensorView<const float> row(tables.data() + (h * len + focus) * len, {len});
        const std::string model_label = c.num_heads == 1 ? "1 head" : fmt::format("{} heads", c.num_heads);
        std::string line = fmt::format("    {:<18}", fmt::format("{:<8} L{} H{}", model_label, l + 1, h + 1));
        for (Index j = 0; j < len; ++j) line += fmt::format("{:>{}.2f}", row(j), widths[static_cast<std::size_t>(j)]);
        fmt::print("{}   {}\n", line, reading_of(row, s, names));
      }
    }
  }
}

// Per head, next to its row above: Δ loss on the relation of the focus word (the PP noun by
// default) and over all held-out positions, and the relation the head carries.
void print_ablation(const std::vector<Run>& runs, const Sentence& s, Index focus) {
  const Run* any = nullptr;
  for (const Run& r : runs)
    if (r.ablation) any = &r;
  if (any == nullptr) return;
  // The focus word's relation when the sentence is in the language, else the PP noun.
  std::string relation(lang::name(lang::Role::pp_noun));
  if (s.analysis) relation = lang::name(s.analysis->roles[static_cast<std::size_t>(focus)]);
  if (!any->ablation->relation_index(relation)) relation = lang::name(lang::Role::pp_noun);
  fmt::print("\n    Which heads matter: zero one head's output (its W_O columns) and measure the held-out loss\n"
             "    (Michel et al. 2019; {} examples, masked word's role; Δ in nats; carries = the relation whose\n"
             "    loss rises most, by ≥ {:.2f}; mha heads --ablate prints every relation)\n",
             any->ablation->examples, train::AblationOptions{}.min_delta);
  fmt::print("    {:<18}{:>12}{:>9}   {}\n", "", "Δ " + relation, "Δ all", "carries");
  for (const Run& r : runs) {
    if (!r.ablation) continue;
    const train::HeadAblation& a = *r.ablation;
    const std::optional<Index> k = a.relation_index(relation);
    const TransformerConfig& c = r.model->model.config();
    for (const train::HeadImportance& h : a.heads) {
      // "4-head L2 H4": not the rows' "4 heads  L2 H4" above, so each table counts on its own.
      const std::string label = fmt::format("{}-head L{} H{}", c.num_heads, h.head.layer + 1, h.head.head + 1);
      const std::string carries =
          h.carries ? fmt::format("{} ({:+.3f})", a.relations[static_cast<std::size_t>(*h.carries)],
                                  h.delta[static_cast<std::size_t>(*h.carries)])
                    : std::string("—");
      fmt::print("    {:<18}{:>12}{:>9}   {}\n", label,
                 k ? fmt::format("{:+.3f}", h.delta[static_cast<std::size_t>(*k)]) : std::string("—"),
                 fmt::format("{:+.3f}", h.delta_all), carries);
    }
  }
}

void write_html(const std::string& path, const Run& r, const Sentence& s, Index focus) {
  const Transformer& model = r.model->model;
  viz::HeadViewData view;
  view.title = "mha demo — " + r.model->name + ": " + r.model->vocabulary.decode(s.ids);
  view.tokens = s.tokens;
  for (Index l = 0; l < model.config().num_layers; ++l)
    view.attention.push_back(Tensor<>::copy_of(layer_tables(r, l)));
  view.query_key = viz::query_key_per_layer(r.out.queries, r.out.keys);
  view.focus = focus;  // the page opens on the focus word's links ("telescope" by default)
  if (r.ablation) view.importance = importance_view(*r.ablation);
  std::ostringstream html;
  viz::write_head_view_html(view, html);
  write_text_atomically(path, html.str(), "--html");
}

nlohmann::json trace_of(const std::vector<Run>& runs, const Sentence& s, Index focus) {
  nlohmann::json models = nlohmann::json::array();
  for (const Run& r : runs) {
    const TransformerConfig& c = r.model->model.config();
    nlohmann::json layers = nlohmann::json::array();
    for (Index l = 0; l < c.num_layers; ++l) {
      nlohmann::json heads = nlohmann::json::array();
      const Tensor<> tables = Tensor<>::copy_of(layer_tables(r, l));
      for (Index h = 0; h < c.num_heads; ++h) heads.push_back(table_json(head_table(tables, h)));
      layers.push_back(heads);
    }
    models.push_back({{"name", r.model->name},
                      {"source", r.model->source},
                      {"config", nlohmann::json::parse(config_to_json(c))},
                      {"trained_steps", r.model->trained_steps},
                      {"attention", layers}});
  }
  nlohmann::json roles = nlohmann::json::array();
  if (s.analysis)
    for (const lang::Role role : s.analysis->roles) roles.push_back(std::string(lang::name(role)));
  return {{"command", "demo"}, {"untrained", false}, {"tokens", s.tokens}, {"roles", roles},
          {"focus", focus},    {"models", models}};
}

}  // namespace

void run_trained_demo(const DemoArgs& args) {
  const Context ctx{.kernel = resolve_kernel(args.kernel)};
  std::vector<DemoModel> models;
  if (args.model.empty()) {
    models.push_back(load_built_in(BuiltInModel::four_heads));
    models.push_back(load_built_in(BuiltInModel::one_head));
  } else {
    models.push_back(load_model_file(args.model, "--model"));
  }
  const Sentence s = read_sentence(args, models.front());
  const Index focus = focus_position(args, s);
  std::vector<Run> runs;
  for (const DemoModel& m : models)  // the head view shows the first model
    runs.push_back(run_model(m, s, runs.empty() && !args.html.empty(), ctx));
  const TransformerConfig& main = models.front().model.config();
  const Index layer = args.layer == 0 ? main.num_layers : args.layer;
  if (layer > main.num_layers)
    throw_invalid("--layer", "in [1, " + std::to_string(main.num_layers) + "]", std::to_string(layer));

  // After the arguments are checked, so that a bad --layer fails at once. One thread: each forward
  // is 300 short rows of a 64-wide model, too little work to share (measured on 2 busy cores:
  // 1.6 s with one thread, 5 s with two).
  Context one_thread = ctx;
  one_thread.threads = 1;
  for (Run& r : runs) r.ablation = ablation_of(*r.model, one_thread);

  fmt::print("mha demo: one sentence through trained attention\n");
  for (const DemoModel& m : models)
    fmt::print("model:  {} ({}): {} layers, d_model {}, {} head{} of {}, {} parameters, {} training steps\n",
               m.name, m.source, m.model.config().num_layers, m.model.config().d_model,
               m.model.config().num_heads, m.model.config().num_heads == 1 ? "" : "s",
               m.model.config().d_model / m.model.config().num_heads,
               grouped(parameter_count(m.model.config())), m.trained_steps);
  if (args.model.empty())
    fmt::print("        trained on the attachment language (docs/language.md) by "
               "scripts/train_demo_models.sh\n");
  std::string numbered;
  for (std::size_t i = 0; i < s.tokens.size(); ++i) numbered += fmt::format(" {}:{}", i, s.tokens[i]);
  fmt::print("tokens ({}):{}\n", s.tokens.size(), numbered);
  if (s.analysis && position_of(s, lang::Role::pp_noun)) {
    const std::string verb = s.tokens[static_cast<std::size_t>(*position_of(s, lang::Role::verb))],
                      object = s.tokens[static_cast<std::size_t>(*position_of(s, lang::Role::object))],
                      pp = s.tokens[static_cast<std::size_t>(*position_of(s, lang::Role::pp_noun))];
    fmt::print("grammar: \"{}\" is {}{}{}\n", pp,
               s.analysis->instrument_fits ? "an instrument of \"" + verb + "\"" : "",
               s.analysis->ambiguous() ? " and " : "",
               s.analysis->attribute_fits ? "an attribute of \"" + object + "\"" : "");
    if (s.analysis->ambiguous())
      fmt::print("         the sentence is ambiguous: both readings are in the language\n");
  } else if (!s.analysis) {
    fmt::print("grammar: not a sentence of the attachment language (the models still run)\n");
  }

  const DemoPrinter printer(s.tokens, resolve_color(args.color));
  fmt::print("\n(a) Where \"{}\" looks: its row of every head's table, per model, layer (L) and head (H)\n",
             s.tokens[static_cast<std::size_t>(focus)]);
  fmt::print("    → the relation the head links it by: verb/subject (instrument) or object "
             "(attribute), when that side holds ≥ 0.25\n");
  print_focus_rows(runs, s, focus, printer);
  print_ablation(runs, s, focus);

  const Tensor<> main_tables = Tensor<>::copy_of(layer_tables(runs.front(), layer - 1));
  fmt::print("\n(b) The {}, layer {}: one table per head (rows = queries, columns = keys)\n",
             models.front().name, layer);
  for (Index h = 0; h < main.num_heads; ++h) {
    fmt::print("\nhead {} of {}\n", h + 1, main.num_heads);
    printer.table(head_table(main_tables, h));
  }
  if (runs.size() > 1) {
    const Index single_layer = std::min(layer, models[1].model.config().num_layers);
    fmt::print("\n(c) The {}, layer {}: its one table\n", models[1].name, single_layer);
    const Tensor<> tables = Tensor<>::copy_of(layer_tables(runs[1], single_layer - 1));
    printer.table(head_table(tables, 0));
  }
  fmt::print("\n");
  print_cost(runs.size() > 1 ? "(d)" : "(c)", static_cast<Index>(s.tokens.size()), main.d_model,
             main.num_heads);
  if (!args.html.empty()) {
    write_html(args.html, runs.front(), s, focus);
    fmt::print("\nhead view written to {}\n", args.html);
  }
  if (!args.trace.empty()) {
    write_text_atomically(args.trace, trace_of(runs, s, focus).dump(2) + "\n", "--trace");
    fmt::print("\ntrace written to {}\n", args.trace);
  }
}

}  // namespace mha::cli
