// Head ablation (formulas in mha/train/head_ablation.hpp): one forward of the held-out batch per
// head, each on a copy of the parameters with that head's W_O columns zeroed.
#include "mha/train/head_ablation.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "mha/core/error.hpp"
#include "mha/train/causal_batches.hpp"
#include "mha/train/masked_batches.hpp"

namespace mha::train {
namespace {

// Relation codes before compaction: the lang::Role values, then <eos>.
constexpr Index role_count = static_cast<Index>(lang::Role::bank) + 1;
constexpr Index end_code = role_count;

std::string relation_name(Index code) {
  return code == end_code ? std::string(end_relation) : std::string(lang::name(static_cast<lang::Role>(code)));
}

void check_head(const TransformerConfig& c, HeadRef ref) {
  if (ref.layer < 0 || ref.layer >= c.num_layers)
    throw_invalid("layer", "a layer index in [0, " + std::to_string(c.num_layers) + ")", std::to_string(ref.layer));
  if (ref.head < 0 || ref.head >= c.num_heads)
    throw_invalid("head", "a head index in [0, " + std::to_string(c.num_heads) + ")", std::to_string(ref.head));
}

// Per position of each stream, the relation code of that token: its role in the sentence it
// belongs to, end_code for <eos>.
std::vector<Index> stream_codes(const std::vector<std::int64_t>& stream, const lang::AttachmentGrammar& grammar,
                                std::int64_t eos) {
  std::vector<Index> codes(stream.size(), -1);
  std::size_t start = 0;
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    if (k < stream.size() && stream[k] != eos) continue;
    if (k > start) {
      const std::span<const std::int64_t> sentence(stream.data() + start, k - start);
      const std::optional<lang::Analysis> analysis = grammar.analyze(sentence);
      // The held-out streams are the grammar's own samples, always derivable; keep -1 otherwise.
      if (analysis)
        for (std::size_t i = 0; i < sentence.size(); ++i)
          codes[start + i] = static_cast<Index>(analysis->roles[i]);
    }
    if (k < stream.size()) codes[k] = end_code;
    start = k + 1;
  }
  return codes;
}

// Replaces the codes by indices into the relations present, in code order.
void compact_relations(AblationSet& set) {
  std::vector<bool> present(static_cast<std::size_t>(end_code + 1), false);
  for (const Index code : set.relation_of)
    if (code >= 0) present[static_cast<std::size_t>(code)] = true;
  std::vector<Index> index_of(present.size(), -1);
  for (Index code = 0; code <= end_code; ++code)
    if (present[static_cast<std::size_t>(code)]) {
      index_of[static_cast<std::size_t>(code)] = static_cast<Index>(set.relations.size());
      set.relations.push_back(relation_name(code));
    }
  for (Index& code : set.relation_of)
    if (code >= 0) code = index_of[static_cast<std::size_t>(code)];
}

}  // namespace

Transformer ablate_heads(const Transformer& model, std::span<const HeadRef> heads) {
  const TransformerConfig& c = model.config();
  for (const HeadRef ref : heads) check_head(c, ref);
  TensorStore params = model.parameters();  // a copy: the model itself is not touched
  const Index d_model = c.d_model, head_dim = c.d_model / c.num_heads;
  for (const HeadRef ref : heads) {
    // out_proj.weight is [out, in]; input columns [h·d, (h+1)·d) are what head h wrote.
    float* w_o = params[model.tensors().layers[static_cast<std::size_t>(ref.layer)].out_proj_weight].data();
    for (Index out = 0; out < d_model; ++out)
      std::fill_n(w_o + out * d_model + ref.head * head_dim, head_dim, 0.0f);
  }
  return Transformer(c, std::move(params));
}

Transformer ablate_head(const Transformer& model, HeadRef head) {
  return ablate_heads(model, std::span<const HeadRef>(&head, 1));
}

AblationSet make_ablation_set(const Transformer& model, const lang::AttachmentGrammar& grammar,
                              const AblationOptions& options) {
  const TransformerConfig& c = model.config();
  const bool causal = c.causal;
  const Index vocab = grammar.vocabulary().size() + (causal ? 1 : 0);
  if (c.vocab_size != vocab)
    throw_invalid("model",
                  std::string("a model of the attachment language (vocab_size ") + std::to_string(vocab) +
                      (causal ? ": its words and <eos>" : ": its words") + ")",
                  "vocab_size " + std::to_string(c.vocab_size));
  const Index longest = grammar.max_length() + (causal ? 1 : 0);
  if (c.max_length < longest)
    throw_invalid("model", "max_length at least " + std::to_string(longest) + " (the longest " +
                               (causal ? "sentence and its <eos>)" : "sentence)"),
                  std::to_string(c.max_length));
  if (options.examples < 1)
    throw_invalid("examples", "at least 1 held-out " + std::string(causal ? "sentence" : "example"),
                  std::to_string(options.examples));

  AblationSet set;
  set.causal = causal;
  set.examples = options.examples;
  if (causal) {
    const CausalBatch b = causal_eval_batch(grammar, options.examples, c.max_length, options.seed);
    set.batch = b.batch;
    set.length = b.length;
    set.inputs = b.inputs;
    set.targets = b.targets;
    set.relation_of.assign(b.inputs.size(), -1);
    const std::int64_t eos = end_of_sentence_id(grammar);
    for (Index r = 0; r < b.batch; ++r) {
      const std::vector<std::int64_t>& stream = b.streams[static_cast<std::size_t>(r)];
      const std::vector<Index> codes = stream_codes(stream, grammar, eos);
      // Position t predicts stream[t + 1].
      for (Index t = 0; t + 1 < static_cast<Index>(stream.size()); ++t)
        set.relation_of[static_cast<std::size_t>(r * b.length + t)] = codes[static_cast<std::size_t>(t + 1)];
    }
  } else {
    const std::vector<EvalExample> examples = make_eval_set(grammar, options.examples, options.seed);
    const MaskedBatch b = eval_batch(examples);
    set.batch = b.batch;
    set.length = b.length;
    set.inputs = b.inputs;
    set.targets = b.targets;
    set.attention_mask.resize(b.padding.size());
    std::transform(b.padding.begin(), b.padding.end(), set.attention_mask.begin(),
                   [](std::uint8_t pad) { return pad ? std::int64_t{0} : std::int64_t{1}; });
    set.relation_of.assign(b.inputs.size(), -1);
    for (std::size_t n = 0; n < examples.size(); ++n) {
      const EvalExample& ex = examples[n];
      set.relation_of[n * static_cast<std::size_t>(b.length) + static_cast<std::size_t>(ex.position)] =
          static_cast<Index>(ex.sentence.roles[static_cast<std::size_t>(ex.position)]);
    }
  }
  // A position without a target is not scored, whatever its relation.
  for (std::size_t i = 0; i < set.targets.size(); ++i)
    if (set.targets[i] < 0) set.relation_of[i] = -1;
  compact_relations(set);
  return set;
}

RelationLosses relation_losses(const Transformer& model, const AblationSet& set, const Context& ctx) {
  const TransformerConfig& c = model.config();
  const Index vocab = c.vocab_size;
  const auto cells = static_cast<std::size_t>(set.batch * set.length);
  if (set.batch < 1 || set.length < 1 || set.inputs.size() != cells || set.targets.size() != cells ||
      set.relation_of.size() != cells || (!set.causal && set.attention_mask.size() != cells))
    throw_invalid("set", "an AblationSet of make_ablation_set", "inconsistent sizes");
  if (set.causal != c.causal)
    throw_invalid("set", std::string("a held-out set of a ") + (c.causal ? "causal" : "masked") + " model",
                  std::string("one of a ") + (set.causal ? "causal" : "masked") + " model");
  const TensorView<const std::int64_t> ids(set.inputs.data(), {set.batch, set.length});
  const TensorView<const std::int64_t> mask =
      set.causal ? TensorView<const std::int64_t>{}
                 : TensorView<const std::int64_t>(set.attention_mask.data(), {set.batch, set.length});
  const TransformerOutput out = model.forward(
      {.input_ids = ids, .token_type_ids = {}, .attention_mask = mask, .position_ids = {}},
      {.output_hidden_states = false, .output_attentions = false, .output_query_key = false}, ctx);

  const std::size_t relations = set.relations.size();
  std::vector<double> sums(relations, 0.0);
  RelationLosses r{.loss = std::vector<double>(relations, 0.0), .positions = std::vector<Index>(relations, 0),
                   .all = 0};
  double total = 0;
  Index scored = 0;
  for (std::size_t i = 0; i < cells; ++i) {
    const std::int64_t target = set.targets[i];
    const Index relation = set.relation_of[i];
    if (target < 0 || relation < 0) continue;
    if (target >= vocab || static_cast<std::size_t>(relation) >= relations)
      throw_invalid("set", "targets in [0, " + std::to_string(vocab) + ") and known relations",
                    "target " + std::to_string(target) + ", relation " + std::to_string(relation));
    const float* z = out.logits.data() + static_cast<Index>(i) * vocab;
    // −log softmax(z)[target] = log Σ exp(z − z_max) + z_max − z_target, in double.
    const float z_max = *std::max_element(z, z + vocab);
    double sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(z[v]) - z_max);
    const double loss = static_cast<double>(z_max) + std::log(sum) - z[target];
    sums[static_cast<std::size_t>(relation)] += loss;
    ++r.positions[static_cast<std::size_t>(relation)];
    total += loss;
    ++scored;
  }
  for (std::size_t k = 0; k < relations; ++k)
    if (r.positions[k] > 0) r.loss[k] = sums[k] / static_cast<double>(r.positions[k]);
  if (scored > 0) r.all = total / static_cast<double>(scored);
  return r;
}

const HeadImportance& HeadAblation::at(Index layer, Index head) const {
  const Index layers = num_heads > 0 ? static_cast<Index>(heads.size()) / num_heads : 0;
  if (layer < 0 || layer >= layers)
    throw_invalid("layer", "a layer index in [0, " + std::to_string(layers) + ")", std::to_string(layer));
  if (head < 0 || head >= num_heads)
    throw_invalid("head", "a head index in [0, " + std::to_string(num_heads) + ")", std::to_string(head));
  return heads[static_cast<std::size_t>(layer * num_heads + head)];
}

std::optional<Index> HeadAblation::relation_index(std::string_view relation) const {
  const auto it = std::find(relations.begin(), relations.end(), relation);
  if (it == relations.end()) return std::nullopt;
  return static_cast<Index>(it - relations.begin());
}

HeadAblation head_ablation(const Transformer& model, const lang::AttachmentGrammar& grammar,
                           const AblationOptions& options, const Context& ctx) {
  if (!std::isfinite(options.min_delta) || options.min_delta < 0)
    throw_invalid("min_delta", "a finite number ≥ 0 (nats)", std::to_string(options.min_delta));
  const AblationSet set = make_ablation_set(model, grammar, options);
  HeadAblation a;
  a.causal = set.causal;
  a.examples = set.examples;
  a.relations = set.relations;
  a.base = relation_losses(model, set, ctx);
  a.positions = a.base.positions;
  a.num_heads = model.config().num_heads;
  for (Index l = 0; l < model.config().num_layers; ++l)
    for (Index h = 0; h < a.num_heads; ++h) {
      const RelationLosses ablated = relation_losses(ablate_head(model, {.layer = l, .head = h}), set, ctx);
      HeadImportance importance{.head = {.layer = l, .head = h}, .delta = {}, .delta_all = ablated.all - a.base.all,
                                .carries = std::nullopt};
      for (std::size_t k = 0; k < a.relations.size(); ++k) {
        importance.delta.push_back(ablated.loss[k] - a.base.loss[k]);
        if (importance.delta.back() >= options.min_delta &&
            (!importance.carries || importance.delta.back() > importance.delta[static_cast<std::size_t>(*importance.carries)]))
          importance.carries = static_cast<Index>(k);
      }
      a.heads.push_back(std::move(importance));
    }
  return a;
}

}  // namespace mha::train
