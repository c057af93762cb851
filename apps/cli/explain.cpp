// mha explain — multi-head attention on a few tokens, every intermediate printed with its formula.
//
// Each step is computed by the library on views of the previous one (mha::linear for the
// projections and Q_h·K_hᵀ, mha::scaled_dot_product_attention for softmax and P_h·V_h), and the
// result is checked against MultiHeadAttention::forward on the same weights.
#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "explain_report.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/layers/scaled_dot_product_attention.hpp"
#include "sentence_input.hpp"

namespace mha::cli {
namespace {

struct ExplainArgs {
  std::string text = "the cat sat down";
  Index d_model = 8;
  Index heads = 2;
  std::uint64_t seed = 0;
  bool causal = false;
  std::string format = "text";
};

// Agreement expected between the step-by-step path and forward(): both accumulate in float64 and
// round every intermediate to float, so they differ by a few float ulps at most.
constexpr double kTolerance = 1e-5;

// Columns [first, first + width) of a [L, E] matrix, as an [L, width] view.
TensorView<const float> columns(const Tensor<>& m, Index first, Index width) {
  return {m.data() + first, {m.dim(0), width}, {m.dim(1), 1}};
}
TensorView<const float> as_row(TensorView<const float> b) { return {b.data(), {1, b.dim(0)}}; }

// y = x·Wᵀ + b for x: [L, In] (any strides).
Tensor<> project(TensorView<const float> x, TensorView<const float> w, TensorView<const float> b) {
  Tensor<> y({x.dim(0), w.dim(0)});
  const TensorView<const float> x3(x.data(), {1, x.dim(0), x.dim(1)},
                                   {0, x.stride(0), x.stride(1)});
  linear({.x = x3, .weight = w, .bias = b, .y = y.view_as({1, x.dim(0), w.dim(0)})});
  return y;
}

class Explainer {
 public:
  explicit Explainer(const ExplainArgs& args)
      : args_(args),
        tokens_(tokenize_words(args.text)),
        layer_(MultiHeadAttention::random({.embed_dim = args.d_model, .num_heads = args.heads},
                                          args.seed)),
        length_(static_cast<Index>(tokens_.size())),
        e_(args.d_model),
        d_(layer_.head_dim()) {}

  ExplainReport run() {
    report_.tokens = tokens_;
    report_.config = {{"d_model", e_},
                      {"heads", args_.heads},
                      {"head_dim", d_},
                      {"seed", args_.seed},
                      {"causal", args_.causal}};
    const MhaWeights& w = layer_.weights();
    const Tensor<> x = embed_sentence(tokens_, e_, args_.seed);
    add("X: token embeddings",
        "x_i = e(word_i) + PE(i)   (seeded static word vector + sinusoidal position)",
        {labelled("X", x.view(), tokens_, numbered("x", e_))});

    const ProjectionRows<const float> pq = projection_rows(w, layer_.config(), Projection::query),
                                      pk = projection_rows(w, layer_.config(), Projection::key),
                                      pv = projection_rows(w, layer_.config(), Projection::value);
    const TensorView<const float> w_q = pq.weight, w_k = pk.weight, w_v = pv.weight;
    const TensorView<const float> b_q = pq.bias, b_k = pk.bias, b_v = pv.bias;
    add("W_Q, W_K, W_V: projection weights",
        fmt::format(
            "rows [0,{0}), [{0},{1}), [{1},{2}) of in_proj_weight, [out, in]; random, seed {3}", e_,
            2 * e_, 3 * e_, args_.seed),
        {labelled("W_Q", w_q, numbered("q", e_), numbered("x", e_)),
         labelled("W_K", w_k, numbered("k", e_), numbered("x", e_)),
         labelled("W_V", w_v, numbered("v", e_), numbered("x", e_)),
         labelled("b_Q", as_row(b_q), {"b"}, numbered("q", e_)),
         labelled("b_K", as_row(b_k), {"b"}, numbered("k", e_)),
         labelled("b_V", as_row(b_v), {"b"}, numbered("v", e_))});

    const Tensor<> q = project(x.view(), w_q, b_q), k = project(x.view(), w_k, b_k),
                   v = project(x.view(), w_v, b_v);
    add("Q, K, V: projections",
        "Q = X·W_Qᵀ + b_Q,  K = X·W_Kᵀ + b_K,  V = X·W_Vᵀ + b_V   (self-attention)",
        {labelled("Q", q.view(), tokens_, numbered("q", e_)),
         labelled("K", k.view(), tokens_, numbered("k", e_)),
         labelled("V", v.view(), tokens_, numbered("v", e_))});

    std::vector<LabelledMatrix> split, scores, scaled, masked, probs, outputs;
    Tensor<> concat({length_, e_});
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_));
    for (Index h = 0; h < args_.heads; ++h) {
      const std::string n = std::to_string(h + 1);
      const auto q_h = columns(q, h * d_, d_), k_h = columns(k, h * d_, d_),
                 v_h = columns(v, h * d_, d_);
      split.push_back(labelled("Q_" + n, q_h, tokens_, numbered("q", d_)));
      split.push_back(labelled("K_" + n, k_h, tokens_, numbered("k", d_)));
      split.push_back(labelled("V_" + n, v_h, tokens_, numbered("v", d_)));

      // Q_h·K_hᵀ is a projection of Q_h by the "weight" K_h (linear computes x·Wᵀ).
      Tensor<> s = project(q_h, k_h, {});
      scores.push_back(labelled("S_" + n, s.view(), tokens_, tokens_));
      for (float& value : s.values()) value = static_cast<float>(value * scale);
      scaled.push_back(labelled("S_" + n + "/√d_k", s.view(), tokens_, tokens_));
      if (args_.causal) {
        for (Index i = 0; i < length_; ++i)
          for (Index j = i + 1; j < length_; ++j) s(i, j) = -INFINITY;
        masked.push_back(labelled("S_" + n + "/√d_k + M", s.view(), tokens_, tokens_));
      }

      SdpaOptions attend;
      attend.is_causal = args_.causal;
      attend.need_weights = true;
      const SdpaOutput head = scaled_dot_product_attention(q_h, k_h, v_h, attend);
      probs.push_back(with_row_sums("P_" + n, head.weights));
      outputs.push_back(labelled("O_" + n, head.output.view(), tokens_, numbered("o", d_)));
      for (Index i = 0; i < length_; ++i)
        for (Index c = 0; c < d_; ++c) concat(i, h * d_ + c) = head.output(i, c);
    }
    add("Split into heads",
        fmt::format("Q_h = Q[:, h·d_k : (h+1)·d_k],  d_k = E/H = {}/{} = {}   (likewise K_h, V_h)",
                    e_, args_.heads, d_),
        std::move(split));
    add("Scores", "S_h = Q_h·K_hᵀ   (S_h[i][j]: how well query i matches key j)",
        std::move(scores));
    add("Scaled scores",
        fmt::format("S_h / √d_k = S_h × {:.4f}   (keeps the softmax from saturating as d_k grows)",
                    scale),
        std::move(scaled));
    if (args_.causal)
      add("Causal mask",
          "S_h/√d_k + M,  M[i][j] = −∞ for j > i   (a token sees itself and earlier tokens only)",
          std::move(masked));
    add("Softmax",
        "P_h[i][j] = exp(s_ij − max_j s_ij) / Σ_j exp(s_ij − max_j s_ij);  column Σ: each row sums "
        "to 1",
        std::move(probs));
    add("Head outputs", "O_h = P_h·V_h   (each query's weighted average of the values)",
        std::move(outputs));
    add("Concatenate", fmt::format("C = [O_1 | … | O_{}]   [{} × {}]", args_.heads, length_, e_),
        {labelled("C", concat.view(), tokens_, numbered("c", e_))});
    add("W_O: output projection", "W_O = out_proj.weight [E, E],  b_O = out_proj.bias",
        {labelled("W_O", w.out_proj_weight.view(), numbered("y", e_), numbered("c", e_)),
         labelled("b_O", as_row(w.out_proj_bias.view()), {"b"}, numbered("y", e_))});
    const Tensor<> y = project(concat.view(), w.out_proj_weight.view(), w.out_proj_bias.view());
    add("Output", "Y = C·W_Oᵀ + b_O", {labelled("Y", y.view(), tokens_, numbered("y", e_))});

    MhaOptions causal;
    causal.is_causal = args_.causal;
    const MhaOutput forward = layer_.forward(x.view(), x.view(), x.view(), causal);
    report_.max_abs_diff = max_abs_diff(y, forward.output);
    report_.tolerance = kTolerance;
    add("Check against the layer",
        fmt::format("MultiHeadAttention::forward(X, X, X) − Y: max |Δ| = {:.3g}  ({})",
                    report_.max_abs_diff,
                    report_.max_abs_diff <= kTolerance ? "equal up to float rounding" : "MISMATCH"),
        {labelled("forward(X)", forward.output.view(), tokens_, numbered("y", e_))});
    return report_;
  }

 private:
  void add(std::string title, std::string formula, std::vector<LabelledMatrix> matrices) {
    report_.steps.push_back({std::move(title), std::move(formula), std::move(matrices)});
  }

  // P with one more column, Σ_j P[i][j].
  LabelledMatrix with_row_sums(std::string name, const Tensor<>& p) const {
    std::vector<std::string> cols = tokens_;
    cols.emplace_back("Σ");
    LabelledMatrix m = labelled(std::move(name), p.view(), tokens_, tokens_);
    m.cols = cols;
    m.values.clear();
    for (Index i = 0; i < length_; ++i) {
      double sum = 0.0;
      for (Index j = 0; j < length_; ++j) {
        m.values.push_back(p(i, j));
        sum += p(i, j);
      }
      m.values.push_back(sum);
    }
    return m;
  }

  static double max_abs_diff(const Tensor<>& a, const Tensor<>& b) {
    double worst = 0.0;
    for (Index n = 0; n < a.numel(); ++n)
      worst = std::max(worst, std::abs(double{a.values()[static_cast<std::size_t>(n)]} -
                                       double{b.values()[static_cast<std::size_t>(n)]}));
    return worst;
  }

  const ExplainArgs& args_;
  std::vector<std::string> tokens_;
  MultiHeadAttention layer_;
  Index length_, e_, d_;
  ExplainReport report_;
};

void run_explain(const ExplainArgs& args) {
  const ExplainReport report = Explainer(args).run();
  if (args.format == "json")
    fmt::print("{}", render_json(report));
  else if (args.format == "markdown")
    fmt::print("{}", render_markdown(report));
  else
    fmt::print("{}", render_text(report));
  if (report.max_abs_diff > report.tolerance)
    throw InternalError(
        fmt::format("explain: the step-by-step output differs from "
                    "MultiHeadAttention::forward by {:.3g}",
                    report.max_abs_diff));
}

}  // namespace

void register_explain(CLI::App& app) {
  auto args = std::make_shared<ExplainArgs>();
  CLI::App* explain = app.add_subcommand(
      "explain",
      "A worked example: every step of multi-head attention on a few tokens, with formulas");
  explain->add_option("--text", args->text, "the tokens")->capture_default_str();
  explain->add_option("--d-model", args->d_model, "model width E")
      ->check(CLI::Range(Index{1}, Index{64}))
      ->capture_default_str();
  explain->add_option("--heads", args->heads, "number of heads H (must divide --d-model)")
      ->check(CLI::Range(Index{1}, Index{64}))
      ->capture_default_str();
  explain->add_option("--seed", args->seed, "seed of the word vectors and the random weights")
      ->capture_default_str();
  explain->add_flag("--causal", args->causal, "mask future tokens (j > i)");
  explain->add_option("--format", args->format, "output format")
      ->check(CLI::IsMember({"text", "markdown", "json"}))
      ->capture_default_str();
  explain->callback([args] { run_explain(*args); });
}

}  // namespace mha::cli
