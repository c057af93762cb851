// Head ablation: which heads a trained model needs, and for which relation (Michel, Levy and
// Neubig 2019, "Are Sixteen Heads Really Better than One?", §3: mask one head, measure the loss).
//
// Removing a head. The layer's output is the concatenation of the heads times W_O:
//   MHA(x) = [head_1 … head_H] · W_Oᵀ + b_O = Σ_h head_h · W_O[:, h·d : (h+1)·d]ᵀ + b_O
// (d = d_model / H, W_O = layers.{l}.self_attn.out_proj.weight, [out, in]), so zeroing the columns
// [h·d, (h+1)·d) of W_O is exactly zeroing head h's output before W_O — Michel et al.'s mask
// ξ_h = 0. b_O and the other heads are untouched; nothing else in the model changes.
//
// The measure: cross-entropy on a fixed held-out set, grouped by the relation of the predicted
// word — its lang::Role (subject, verb, object, pp_noun, bank_context, bank, …):
//   masked models   make_eval_set(grammar, examples, seed): one [MASK] per example, the relation
//                   is the masked word's role (pp_noun = the `two_relations` examples)
//   causal LMs      causal_eval_batch(grammar, examples sentences, max_length, seed): every next
//                   token, the relation is the predicted token's role, "end" for <eos>
//   loss_r(θ)          = mean over the positions of relation r of −log softmax(z)[target]
//   Δ_{l,h}(r)         = loss_r(θ, head (l, h) ablated) − loss_r(θ)              (nats)
//   carries(l, h)      = argmax_r Δ_{l,h}(r), when that Δ ≥ min_delta; else none
// carries compares absolute Δ, not Δ / loss_r(θ): a relation the model already predicts almost
// perfectly (loss ≈ 0.001) would otherwise be "carried" by any head that moves it by a hair.
// The seed defaults to the trainer's eval_seed, so the base loss is the one `mha train` reports.
// Deterministic: a pure function of the model, the options and the thread count.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/lang/attachment_grammar.hpp"
#include "mha/models/transformer.hpp"

namespace mha::train {

struct AblationOptions {
  Index examples = 900;                 // masked: held-out examples; causal LM: sentences
  std::uint64_t seed = 0x5EED0E7A1ull;  // TrainingConfig::eval_seed
  double min_delta = 0.01;              // nats: a smaller largest Δ carries no relation
};

struct HeadRef {
  Index layer = 0, head = 0;  // 0-based
};

// A copy of the model with every listed head removed (its W_O columns zeroed). Throws mha::Error
// naming "layer" or "head" for one outside the model.
Transformer ablate_heads(const Transformer& model, std::span<const HeadRef> heads);
Transformer ablate_head(const Transformer& model, HeadRef head);

// The held-out positions of one model: a batch and, per position, its relation.
struct AblationSet {
  bool causal = false;
  Index examples = 0;                  // examples (masked) or sentences (causal)
  Index batch = 0, length = 0;
  std::vector<std::int64_t> inputs;          // [batch·length]
  std::vector<std::int64_t> attention_mask;  // [batch·length], 1 = a token; empty for causal
  std::vector<std::int64_t> targets;         // [batch·length], −1 = not scored
  std::vector<Index> relation_of;            // [batch·length], index into relations, −1 = none
  std::vector<std::string> relations;        // the relations present, in lang::Role order, "end" last
};

// masked: the model's vocabulary must be the grammar's; causal: the grammar's and <eos>. Throws
// mha::Error naming "model" for another vocabulary size or a model shorter than the grammar's
// longest sentence (+1 causal), and "examples" below 1.
AblationSet make_ablation_set(const Transformer& model, const lang::AttachmentGrammar& grammar,
                              const AblationOptions& options = {});

struct RelationLosses {
  std::vector<double> loss;      // per relation of the set
  std::vector<Index> positions;  // per relation
  double all = 0;                // over every scored position
};
// Throws mha::Error naming "set" when it does not fit the model (vocabulary, causality).
RelationLosses relation_losses(const Transformer& model, const AblationSet& set, const Context& ctx = {});

struct HeadImportance {
  HeadRef head;
  std::vector<double> delta;     // per relation: loss_ablated − loss_full
  double delta_all = 0;          // the same over every position
  std::optional<Index> carries;  // the relation with the largest Δ, when ≥ min_delta
};

struct HeadAblation {
  bool causal = false;
  Index examples = 0;
  std::vector<std::string> relations;
  std::vector<Index> positions;  // per relation
  RelationLosses base;           // the full model
  std::vector<HeadImportance> heads;  // layer-major: heads[l·H + h]
  Index num_heads = 0;

  const HeadImportance& at(Index layer, Index head) const;  // throws naming "layer" / "head"
  std::optional<Index> relation_index(std::string_view relation) const;
};

// Every head of every layer, one at a time. Throws as make_ablation_set and naming "min_delta"
// when it is negative or not finite.
HeadAblation head_ablation(const Transformer& model, const lang::AttachmentGrammar& grammar,
                           const AblationOptions& options = {}, const Context& ctx = {});

// The relation name of a role (lang::name) and of <eos>.
inline constexpr std::string_view end_relation = "end";

}  // namespace mha::train
