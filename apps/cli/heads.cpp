// mha heads — every head of a checkpoint on a sentence of your own: a Hugging Face BERT folder,
// a model trained by `mha train`, or the demo's built-in models.
//
//   tokens  = BERT: WordPiece(--text) with the folder's vocab.txt, [CLS] … [SEP];
//             mha models: the words of --text in the model's vocabulary; a causal language
//             model (demo-lm) reads <eos> first, as in training and `mha generate`, and
//             --generate N first extends the text by N greedy tokens
//   weights = the encoder's per-head attention, [H, L, L] for each of the N layers
//
// Prints one heat map per head of --layer (1-based, default the last), then, for --focus, what
// each head of that layer does from the focus token (top key, margin, entropy), and, for
// --target, the heads ranked by attention from the focus token to the target token. --json
// writes every layer's weights; --html writes the interactive offline head view, with queries
// and keys recomputed from each layer's input so the page can show q·k, the scaled score and the
// softmax. --ablate adds head ablation (mha/train/head_ablation.hpp): per head, how much the
// held-out loss of each relation rises when the head's output is zeroed, and the relation it
// carries; --json and --html include it.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "commands.hpp"
#include "demo_models.hpp"
#include "head_importance.hpp"
#include "lm_generation.hpp"
#include "mha/io/wordpiece.hpp"
#include "mha/lang/attachment_grammar.hpp"
#include "mha/models/bert.hpp"
#include "mha/models/transformer.hpp"
#include "mha/train/causal_batches.hpp"
#include "mha/train/head_ablation.hpp"
#include "mha/viz/attention_links.hpp"
#include "mha/viz/head_analysis.hpp"
#include "mha/viz/head_view_html.hpp"
#include "mha/viz/heatmap.hpp"
#include "mha/viz/query_key.hpp"

namespace mha::cli {
namespace {

namespace fs = std::filesystem;

struct HeadsArgs {
  std::string model, text, focus, target, html, json, kernel, color;
  Index layer = 0;  // 1-based; 0 = the last layer
  Index generate = 0;  // causal models: greedy tokens appended to --text first
  bool ablate = false;
  Index ablate_examples = train::AblationOptions{}.examples;
};

// What the encoder produced for one sentence.
struct EncodedSentence {
  EncoderShape model;
  std::vector<std::string> tokens;
  std::vector<std::int64_t> ids;
  std::vector<Tensor<>> attention;        // per layer [H, L, L]
  std::vector<viz::QueryKey> query_key;   // per layer, for --html (empty otherwise)
};

// A model and the sentence in its tokens: the only part that differs between model families.
struct TokenizedModel {
  std::unique_ptr<Encoder> model;
  std::vector<std::string> tokens;
  std::vector<std::int64_t> ids, token_types;  // token_types empty: the model has no segments
  const char* limit = "";                       // what bounds the length, for the message
  std::vector<std::string> vocabulary;          // mha models: the words of the ids
};

// A Hugging Face BERT folder: WordPiece tokens with [CLS] … [SEP].
TokenizedModel tokenize_bert(const HeadsArgs& args) {
  auto model = std::make_unique<BertModel>(BertModel::load(args.model));
  WordPieceTokenizer::Encoding encoding = WordPieceTokenizer::from_folder(args.model).encode(args.text);
  return {std::move(model), std::move(encoding.tokens), std::move(encoding.ids),
          std::move(encoding.token_type_ids), " with [CLS] and [SEP] (the model's max_position_embeddings)", {}};
}

// A model of `mha train` (a checkpoint file, or "demo" / "demo-1-head" / "demo-lm" for the
// built-in ones): the words of the attachment language, no special tokens but a language
// model's leading <eos>.
TokenizedModel tokenize_trained(const HeadsArgs& args, const Context& ctx) {
  const std::optional<BuiltInModel> built_in = built_in_named(args.model);
  DemoModel m = built_in ? load_built_in(*built_in) : load_model_file(args.model, "--model");
  TokenizedModel t{.model = nullptr, .tokens = {}, .ids = m.vocabulary.encode(args.text, "--text"),
                   .token_types = {}, .limit = " (the model's max_length)", .vocabulary = {}};
  if (t.ids.empty()) throw_invalid("--text", "at least one word", "'" + args.text + "'");
  if (m.model.config().causal || args.generate > 0) {
    // The language model's view: what `mha generate` runs on this text.
    LanguageModel lm = as_language_model(std::move(m), args.model, "--model");
    t.ids = prompt_ids(lm, args.text, "--text");
    if (args.generate > 0) {
      const Generation g = generate(lm, t.ids, {.max_tokens = args.generate, .ignore_eos = true, .count_argument = "--generate"}, ctx);
      t.ids.insert(t.ids.end(), g.tokens.begin(), g.tokens.end());
    }
    m = std::move(lm.model);
  }
  for (const std::int64_t id : t.ids) t.tokens.push_back(m.vocabulary.word(id));
  t.vocabulary = m.vocabulary.words();
  t.model = std::make_unique<Transformer>(std::move(m.model));
  return t;
}

EncodedSentence encode(const TokenizedModel& t, bool need_query_key, const Context& ctx) {
  const EncoderShape shape = t.model->shape();
  const auto length = static_cast<Index>(t.ids.size());
  if (length > shape.max_positions)
    throw_invalid("--text", fmt::format("at most {} tokens{}", shape.max_positions, t.limit),
                  std::to_string(length) + " tokens");
  const TensorView<const std::int64_t> ids(t.ids.data(), {1, length});
  const TensorView<const std::int64_t> types =
      t.token_types.empty() ? TensorView<const std::int64_t>{}
                            : TensorView<const std::int64_t>(t.token_types.data(), {1, length});
  const EncoderOutput output = t.model->encode(
      {.input_ids = ids, .token_type_ids = types},
      {.output_hidden_states = false, .output_attentions = true, .output_query_key = need_query_key}, ctx);
  EncodedSentence out{.model = shape, .tokens = t.tokens, .ids = t.ids, .attention = {},
                      .query_key = viz::query_key_per_layer(output.queries, output.keys)};
  for (const Tensor<>& weights : output.attentions)
    out.attention.push_back(Tensor<>::copy_of(weights.view_as({shape.heads, length, length})));
  return out;
}

// "saw #3": the token and its position, so that a repeated word is unambiguous.
std::string token_name(const std::vector<std::string>& tokens, Index index) {
  return fmt::format("{} #{}", tokens[static_cast<std::size_t>(index)], index);
}

void print_heatmaps(const EncodedSentence& s, Index layer, viz::ColorMode color) {
  const Tensor<>& weights = s.attention[static_cast<std::size_t>(layer - 1)];
  const Index heads = weights.dim(0), length = weights.dim(1);
  for (Index h = 0; h < heads; ++h) {
    const TensorView<const float> table{weights.data() + h * length * length, {length, length}};
    std::vector<std::string> notes;
    for (const viz::AttentionLink& link : viz::strongest_links(table))
      notes.push_back(fmt::format("→ {} {:.2f}", token_name(s.tokens, link.key), link.weight));
    fmt::print("layer {} head {} of {}\n{}\n", layer, h + 1, heads,
               viz::render_heatmap(table, s.tokens, s.tokens, notes, {.color = color, .legend = false}));
  }
}

nlohmann::json print_focus(const EncodedSentence& s, Index layer, Index focus) {
  const Tensor<>& weights = s.attention[static_cast<std::size_t>(layer - 1)];
  const std::vector<viz::HeadFocus> heads = viz::analyze_focus(weights.view(), focus);
  fmt::print("focus {} in layer {}: entropy in nats (0 = one key, ln {} = {:.2f} = uniform)\n",
             token_name(s.tokens, focus), layer, s.tokens.size(), std::log(double(s.tokens.size())));
  fmt::print("  {:>4}  {:<18}{:>8}{:>8}{:>14}{:>14}\n", "head", "top key", "weight", "margin",
             "entropy (row)", "entropy (all)");
  nlohmann::json rows = nlohmann::json::array();
  for (const viz::HeadFocus& h : heads) {
    fmt::print("  {:>4}  {:<18}{:>8.3f}{:>8.3f}{:>14.3f}{:>14.3f}\n", h.head + 1,
               viz::fit_to_width(token_name(s.tokens, h.top_key), 17), h.top_weight, h.margin,
               h.focus_entropy, h.mean_entropy);
    rows.push_back({{"head_index", h.head},
                    {"top_key_index", h.top_key},
                    {"top_key", s.tokens[static_cast<std::size_t>(h.top_key)]},
                    {"weight", h.top_weight},
                    {"margin", h.margin},
                    {"focus_row_entropy", h.focus_entropy},
                    {"mean_entropy", h.mean_entropy}});
  }
  return rows;
}

nlohmann::json print_target(const EncodedSentence& s, Index layer, Index focus, Index target) {
  const Tensor<>& weights = s.attention[static_cast<std::size_t>(layer - 1)];
  fmt::print("heads of layer {} ranked by attention from {} to {}\n", layer, token_name(s.tokens, focus),
             token_name(s.tokens, target));
  fmt::print("  {:>4}  {:>4}  {:>8}  {}\n", "rank", "head", "weight", "place in the focus row");
  nlohmann::json rows = nlohmann::json::array();
  Index rank = 0;
  for (const viz::HeadTargetWeight& h : viz::rank_heads_by_target(weights.view(), focus, target)) {
    fmt::print("  {:>4}  {:>4}  {:>8.3f}  {}\n", ++rank, h.head + 1, h.weight,
               h.rank_in_row == 1 ? std::string("top key") : fmt::format("#{} strongest", h.rank_in_row));
    rows.push_back({{"head_index", h.head}, {"weight", h.weight}, {"rank_in_row", h.rank_in_row}});
  }
  return rows;
}

// [layer][head][query][key] as nested arrays.
nlohmann::json attention_json(const std::vector<Tensor<>>& layers) {
  nlohmann::json all = nlohmann::json::array();
  for (const Tensor<>& weights : layers) {
    nlohmann::json heads = nlohmann::json::array();
    const Index length = weights.dim(2);
    for (Index h = 0; h < weights.dim(0); ++h) {
      nlohmann::json rows = nlohmann::json::array();
      for (Index i = 0; i < weights.dim(1); ++i) {
        const float* row = weights.data() + (h * weights.dim(1) + i) * length;
        rows.push_back(std::vector<float>(row, row + length));
      }
      heads.push_back(std::move(rows));
    }
    all.push_back(std::move(heads));
  }
  return all;
}

// Head ablation on the attachment language's held-out set; the model must speak that language.
train::HeadAblation ablate(const HeadsArgs& args, const TokenizedModel& t, const Context& ctx) {
  const auto* model = dynamic_cast<const Transformer*>(t.model.get());
  if (model == nullptr) throw InternalError("heads: --ablate on a model that is not a Transformer");
  // The language whose vocabulary the model has: the standard one or a variant (`mha train
  // --language`); the held-out set is drawn from it.
  const bool causal = model->config().causal;
  std::optional<lang::AttachmentGrammar> language;
  for (const lang::LanguageVariant variant : {lang::LanguageVariant::standard, lang::LanguageVariant::two_objects}) {
    language.emplace(variant);
    const std::vector<std::string> words =
        causal ? train::causal_vocabulary(*language).words() : language->vocabulary().words();
    if (t.vocabulary == words) break;
    language.reset();
  }
  if (!language)
    throw_invalid("--model", "for --ablate, a model of the attachment language (the vocabulary mha train uses)",
                  "'" + args.model + "' with another vocabulary");
  const lang::AttachmentGrammar& grammar = *language;
  // One thread: a forward of short rows of these small models is too little work to share (on 2
  // busy cores the 900-example table took 2.2 s with one thread, 5.4 s with two).
  Context one_thread = ctx;
  one_thread.threads = 1;
  return train::head_ablation(*model, grammar, {.examples = args.ablate_examples, .seed = train::AblationOptions{}.seed,
                                                .min_delta = train::AblationOptions{}.min_delta},
                              one_thread);
}

std::string signed_delta(double delta) { return fmt::format("{:+.3f}", delta); }

// One row per head: Δ loss per relation and overall, and the relation it carries.
void print_ablation(const train::HeadAblation& a) {
  const train::AblationOptions defaults;
  fmt::print("head ablation (Michel et al. 2019): Δ loss = loss with the head's output zeroed − loss of "
             "the full model,\n  in nats, on {} held-out {} of the attachment language, grouped by the "
             "role of the {} word\n",
             a.examples, a.causal ? "sentences" : "examples", a.causal ? "predicted (next)" : "masked");
  fmt::print("  carries = the relation whose loss rises most (absolute Δ), when by ≥ {:.2f} nats\n",
             defaults.min_delta);
  std::vector<std::size_t> widths;
  std::string header = fmt::format("  {:<12}", "");
  for (const std::string& r : a.relations) {
    widths.push_back(std::max<std::size_t>(9, r.size() + 2));
    header += fmt::format("{:>{}}", r, widths.back());
  }
  fmt::print("{}{:>9}   {}\n", header, "all", "carries");
  std::string positions = fmt::format("  {:<12}", "positions"), base = fmt::format("  {:<12}", "full model");
  for (std::size_t k = 0; k < a.relations.size(); ++k) {
    positions += fmt::format("{:>{}}", a.positions[k], widths[k]);
    base += fmt::format("{:>{}.3f}", a.base.loss[k], widths[k]);
  }
  Index all_positions = 0;
  for (const Index n : a.positions) all_positions += n;
  fmt::print("{}{:>9}\n{}{:>9.3f}   (loss)\n", positions, all_positions, base, a.base.all);
  for (const train::HeadImportance& h : a.heads) {
    std::string line = fmt::format("  {:<12}", fmt::format("L{} H{}", h.head.layer + 1, h.head.head + 1));
    for (std::size_t k = 0; k < a.relations.size(); ++k) line += fmt::format("{:>{}}", signed_delta(h.delta[k]), widths[k]);
    fmt::print("{}{:>9}   {}\n", line, signed_delta(h.delta_all),
               h.carries ? a.relations[static_cast<std::size_t>(*h.carries)] : std::string("—"));
  }
}

nlohmann::json ablation_json(const train::HeadAblation& a) {
  const train::AblationOptions defaults;
  nlohmann::json heads = nlohmann::json::array();
  for (const train::HeadImportance& h : a.heads) {
    nlohmann::json delta = nlohmann::json::object();
    for (std::size_t k = 0; k < a.relations.size(); ++k) delta[a.relations[k]] = h.delta[k];
    heads.push_back({{"layer_index", h.head.layer},
                     {"head_index", h.head.head},
                     {"delta", delta},
                     {"delta_all", h.delta_all},
                     {"carries", h.carries ? nlohmann::json(a.relations[static_cast<std::size_t>(*h.carries)])
                                           : nlohmann::json(nullptr)}});
  }
  nlohmann::json base = nlohmann::json::object(), positions = nlohmann::json::object();
  for (std::size_t k = 0; k < a.relations.size(); ++k) {
    base[a.relations[k]] = a.base.loss[k];
    positions[a.relations[k]] = a.positions[k];
  }
  return {{"method", "zero the head's W_O columns (its output), one head at a time"},
          {"objective", a.causal ? "causal-lm" : "masked"},
          {"held_out", a.causal ? "sentences" : "examples"},
          {"examples", a.examples},
          {"seed", defaults.seed},
          {"unit", "nats"},
          {"min_delta", defaults.min_delta},
          {"relations", a.relations},
          {"positions", positions},
          {"base_loss", base},
          {"base_loss_all", a.base.all},
          {"heads", heads}};
}

void write_html(const HeadsArgs& args, const EncodedSentence& s, Index focus,
                const std::optional<train::HeadAblation>& ablation) {
  std::string text;  // the tokens shown, which --generate extends past --text
  for (const std::string& token : s.tokens) text += (text.empty() ? "" : " ") + token;
  const viz::HeadViewData view{.title = fmt::format("“{}” — {}", args.generate > 0 ? text : args.text,
                                                    fs::path(args.model).filename().string()),
                               .tokens = s.tokens,
                               .attention = s.attention,
                               .query_key = s.query_key,
                               .focus = focus >= 0 ? std::optional<Index>(focus) : std::nullopt,
                               .importance = ablation ? std::optional(importance_view(*ablation)) : std::nullopt};
  std::ostringstream page;
  viz::write_head_view_html(view, page);
  write_text_atomically(args.html, page.str(), "--html");
}

void run_heads(const HeadsArgs& args) {
  if (!args.target.empty() && args.focus.empty())
    throw_invalid("--target", "--focus as well (heads are ranked by attention from the focus token)",
                  "--target alone");
  const bool bert = fs::is_directory(args.model);
  const bool trained = !bert && (fs::is_regular_file(args.model) || built_in_named(args.model));
  if (!bert && !trained)
    throw_invalid("--model", "a BERT folder (config.json, vocab.txt, model.safetensors), a checkpoint "
                             "file of mha train, or demo / demo-1-head / demo-lm",
                  "'" + args.model + "' (no such folder or file)");
  if (bert && args.generate > 0)
    throw_invalid("--generate", "a causal language model of mha train (e.g. demo-lm)", "a BERT folder");
  if (bert && args.ablate)
    throw_invalid("--ablate", "a model of mha train (demo, demo-1-head, demo-lm or a checkpoint): the held-out "
                              "set is the attachment language's",
                  "a BERT folder");
  // Output files are checked before the model runs and written whole or not at all.
  if (!args.json.empty()) check_output_directory(args.json, "--json");
  if (!args.html.empty()) check_output_directory(args.html, "--html");
  const Context ctx{.kernel = resolve_kernel(args.kernel)};
  const viz::ColorMode color = resolve_color(args.color);
  const TokenizedModel tokenized = bert ? tokenize_bert(args) : tokenize_trained(args, ctx);
  const EncodedSentence s = encode(tokenized, !args.html.empty(), ctx);
  const EncoderShape& config = s.model;
  const Index layers = config.layers;
  const Index layer = args.layer == 0 ? layers : args.layer;
  if (layer < 1 || layer > layers)
    throw_invalid("--layer", "a layer in [1, " + std::to_string(layers) + "]", std::to_string(args.layer));

  // Resolve the words before printing anything, so a typo fails with a single line.
  const Index focus = args.focus.empty() ? -1 : viz::find_token(s.tokens, args.focus, "--focus");
  const Index target = args.target.empty() ? -1 : viz::find_token(s.tokens, args.target, "--target");
  const std::optional<train::HeadAblation> ablation =
      args.ablate ? std::optional(ablate(args, tokenized, ctx)) : std::nullopt;

  fmt::print("model: {} ({} layers × {} heads, hidden size {}, head size {})\n", args.model, layers,
             config.heads, config.hidden, config.head_dim);
  std::string listing;
  for (std::size_t i = 0; i < s.tokens.size(); ++i) listing += fmt::format(" {}:{}", i, s.tokens[i]);
  fmt::print("tokens ({}):{}\n\n", s.tokens.size(), listing);
  print_heatmaps(s, layer, color);

  nlohmann::json analysis;
  if (focus >= 0) {
    analysis = {{"layer_index", layer - 1},
                {"focus_index", focus},
                {"focus", s.tokens[static_cast<std::size_t>(focus)]},
                {"entropy_unit", "nats"},
                {"heads", print_focus(s, layer, focus)}};
    if (target >= 0) {
      fmt::print("\n");
      analysis["target_index"] = target;
      analysis["target"] = s.tokens[static_cast<std::size_t>(target)];
      analysis["ranking"] = print_target(s, layer, focus, target);
    }
  }
  if (ablation) {
    fmt::print("\n");
    print_ablation(*ablation);
  }
  if (!args.json.empty()) {
    const nlohmann::json j = {
        {"model", args.model},
        {"text", args.text},
        {"tokens", s.tokens},
        {"token_ids", s.ids},
        {"config", {{"num_hidden_layers", layers},
                    {"num_attention_heads", config.heads},
                    {"hidden_size", config.hidden},
                    {"head_dim", config.head_dim},
                    {"max_position_embeddings", config.max_positions}}},
        {"attention", attention_json(s.attention)},
        {"analysis", analysis},
    };
    nlohmann::json with_ablation = j;
    if (ablation) with_ablation["ablation"] = ablation_json(*ablation);
    write_text_atomically(args.json, with_ablation.dump() + "\n", "--json");
    fmt::print("wrote {}\n", args.json);
  }
  if (!args.html.empty()) {
    write_html(args, s, focus, ablation);
    fmt::print("wrote {}\n", args.html);
  }
}

}  // namespace

void register_heads(CLI::App& app) {
  auto args = std::make_shared<HeadsArgs>();
  CLI::App* heads = app.add_subcommand(
      "heads", "every attention head of a BERT checkpoint or a trained mha model on your sentence");
  heads->add_option("--model", args->model,
                    "Hugging Face BERT folder (config.json, vocab.txt, model.safetensors), a checkpoint "
                    "of mha train, or demo / demo-1-head / demo-lm (the built-in trained models)")
      ->required();
  heads->add_option("--text", args->text,
                    "the sentence (BERT: WordPiece-tokenized, [CLS] … [SEP] added; mha models: words)")->required();
  heads->add_option("--layer", args->layer, "layer whose heads are printed, 1 … N (default: the last)");
  heads->add_option("--focus", args->focus, "token to analyse (first match, or #N for position N)");
  heads->add_option("--target", args->target, "rank the heads by attention from --focus to this token");
  heads->add_option("--html", args->html, "write the interactive offline head view to this file");
  heads->add_option("--generate", args->generate,
                    "causal language models (demo-lm): first extend --text by N greedy tokens")
      ->check(CLI::NonNegativeNumber);
  heads->add_option("--json", args->json,
                    "write tokens and every layer's per-head weights (and, with --ablate, the ablation) to this file");
  CLI::Option* ablate = heads->add_flag(
      "--ablate", args->ablate,
      "mha models: zero one head at a time and print the rise of the held-out loss per relation "
      "(subject, verb, object, pp_noun, …) and the relation each head carries");
  heads->add_option("--ablate-examples", args->ablate_examples,
                    "held-out examples for --ablate (causal models: sentences)")
      ->check(CLI::Range(Index{1}, Index{1} << 20))
      ->capture_default_str()
      ->needs(ablate);
  add_kernel_option(*heads, args->kernel);
  add_color_option(*heads, args->color);
  heads->callback([args] { run_heads(*args); });
}

}  // namespace mha::cli
