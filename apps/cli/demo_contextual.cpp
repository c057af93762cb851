// mha demo --contextual — the starting point of attention: a word has one static embedding, but
// its contextual embedding depends on the sentence. "bank" in a money sentence and a river
// sentence of the attachment language, through the built-in 4-head model (or --model):
//
//   static      e = E[bank]·√d + PE(6)       the input vector, the same in both sentences
//   contextual  h₁, h₂ = the model's output at "bank" (after the last layer and final norm)
//   cos(a, b) = a·b / (‖a‖·‖b‖)
// Both sentences have "bank" at position 6, so the positional part of e is the same too and any
// difference comes from the context alone. Per layer, cos(x₁ˡ, x₂ˡ) of the residual stream shows
// where the two readings separate.
#include <fmt/core.h>

#include <cmath>
#include <string>
#include <vector>

#include "cli_options.hpp"
#include "demo.hpp"
#include "demo_models.hpp"

namespace mha::cli {
namespace {

constexpr const char* kMoney = "the woman put money in the bank";
constexpr const char* kRiver = "the man sat on the river bank";

// Row `position` of a [1, L, d] tensor.
std::vector<double> row_of(const Tensor<>& x, Index position) {
  const Index d = x.dim(2);
  return {x.data() + position * d, x.data() + (position + 1) * d};
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) dot += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
  return na == 0 || nb == 0 ? 0.0 : dot / std::sqrt(na * nb);
}

struct Context2 {
  std::vector<std::int64_t> ids;
  Index bank = 0;
  EncoderOutput out;
};

Context2 run_sentence(const DemoModel& m, const char* text, const Context& ctx) {
  Context2 c;
  c.ids = m.vocabulary.encode(text, "--contextual");
  c.bank = static_cast<Index>(c.ids.size()) - 1;
  const TensorView<const std::int64_t> ids(c.ids.data(), {1, static_cast<Index>(c.ids.size())});
  c.out = m.model.encode({.input_ids = ids}, {.output_hidden_states = true, .output_attentions = true}, ctx);
  return c;
}

}  // namespace

void run_contextual_demo(const DemoArgs& args) {
  const Context ctx{.kernel = resolve_kernel(args.kernel)};
  const DemoModel m = args.model.empty() ? load_built_in(BuiltInModel::four_heads)
                                         : load_model_file(args.model, "--model");
  if (!m.vocabulary.contains("bank") || !m.vocabulary.contains("river") || !m.vocabulary.contains("money"))
    throw_invalid("--model", "a model of the attachment language (with bank, river, money)", m.name);
  const Context2 money = run_sentence(m, kMoney, ctx), river = run_sentence(m, kRiver, ctx);
  const Index layers = m.model.config().num_layers;

  fmt::print("mha demo --contextual: one word, one static embedding, two contextual embeddings\n");
  fmt::print("model: {} ({})\n\n", m.name, m.source);
  fmt::print("  money: \"{}\"\n  river: \"{}\"\n", kMoney, kRiver);
  fmt::print("  \"bank\" is token {} in both, so even its position is the same.\n\n", money.bank);

  const std::vector<double> e = row_of(money.out.hidden_states.front(), money.bank);
  const std::vector<double> h_money = row_of(money.out.last_hidden_state, money.bank);
  const std::vector<double> h_river = row_of(river.out.last_hidden_state, river.bank);
  fmt::print("  static e(bank) = E[bank]·√d + PE({}): the input, identical in both sentences\n", money.bank);
  fmt::print("    cos(e in money, e in river)      {:+.3f}\n",
             cosine(e, row_of(river.out.hidden_states.front(), river.bank)));
  fmt::print("  contextual h(bank): the model's output at \"bank\"\n");
  fmt::print("    cos(e, h money)                  {:+.3f}\n", cosine(e, h_money));
  fmt::print("    cos(e, h river)                  {:+.3f}\n", cosine(e, h_river));
  fmt::print("    cos(h money, h river)            {:+.3f}\n\n", cosine(h_money, h_river));

  fmt::print("  layer by layer, cos(money, river) of the vector at \"bank\":\n");
  for (Index l = 0; l <= layers; ++l)
    fmt::print("    {:<28}     {:+.3f}\n", l == 0 ? "input (static)" : fmt::format("after layer {}", l),
               cosine(row_of(money.out.hidden_states[static_cast<std::size_t>(l)], money.bank),
                      row_of(river.out.hidden_states[static_cast<std::size_t>(l)], river.bank)));
  fmt::print("    {:<28}     {:+.3f}\n", "output (final norm)", cosine(h_money, h_river));

  // Which context words the last layer's heads read into "bank".
  fmt::print("\n  what \"bank\" attends to in the last layer (mean over heads):\n");
  for (const Context2* c : {&money, &river}) {
    const Tensor<>& a = c->out.attentions.back();  // [1, H, L, L]
    const Index heads = a.dim(1), len = a.dim(2);
    std::string line;
    for (Index j = 0; j < len; ++j) {
      double mean = 0;
      for (Index h = 0; h < heads; ++h) mean += a(0, h, c->bank, j);
      line += fmt::format(" {} {:.2f}", m.vocabulary.word(c->ids[static_cast<std::size_t>(j)]),
                          mean / static_cast<double>(heads));
    }
    fmt::print("    {}:{}\n", c == &money ? "money" : "river", line);
  }
}

}  // namespace mha::cli
