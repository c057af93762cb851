// Reference kernels for training, float64 accumulation and plain loops that mirror the math of
// mha/kernels/attention_backward.hpp. Never optimise this file; it is the oracle.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   lse: [B, Hq, Lq]
#include "kernels/reference/attention_backward_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/reference/key_visibility.hpp"

namespace mha {
namespace {

constexpr double minus_infinity = -std::numeric_limits<double>::infinity();

// The scores of one query row: s_ij = scale · q_i·k_j + additive masks, and whether j is allowed.
struct RowScores {
  std::vector<double> score;
  std::vector<bool> allowed;
  bool any_allowed = false;
};

void score_row(const TensorView<const float>& q, const TensorView<const float>& k,
               const AttentionParams& p, Index b, Index h, Index g, Index i, RowScores& row) {
  const Index lq = q.dim(2), d = q.dim(3), lk = k.dim(2);
  const Index pos = reference::query_position(p, i, lq, lk);
  row.any_allowed = false;
  for (Index j = 0; j < lk; ++j) {
    const auto sj = static_cast<std::size_t>(j);
    double dot = 0.0;
    for (Index c = 0; c < d; ++c)
      dot += static_cast<double>(q(b, h, i, c)) * static_cast<double>(k(b, g, j, c));
    double s = p.scale * dot;
    row.allowed[sj] = reference::key_allowed(p, b, h, i, j, pos, s);
    row.score[sj] = s;
    row.any_allowed = row.any_allowed || row.allowed[sj];
  }
}

// z_ij: the factor dropout multiplies p_ij by (1 without dropout, 0 or 1/(1 − rate) with it).
double dropout_factor(const AttentionDropout& dropout, Index b, Index h, Index i, Index j) {
  if (dropout.rate <= 0.0) return 1.0;
  return dropout_keeps(dropout, b, h, i, j) ? 1.0 / (1.0 - dropout.rate) : 0.0;
}

}  // namespace

void attention_dropout_reference(const AttentionArgs& a, const AttentionDropout& dropout) {
  const Index batch = a.q.dim(0), heads = a.q.dim(1), lq = a.q.dim(2);
  const Index group = heads / a.k.dim(1), lk = a.k.dim(2), dv = a.v.dim(3);
  RowScores row{std::vector<double>(static_cast<std::size_t>(lk)),
                std::vector<bool>(static_cast<std::size_t>(lk)), false};
  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < lq; ++i) {
        const Index g = h / group;
        score_row(a.q, a.k, a.params, b, h, g, i, row);
        if (!row.any_allowed) {  // fully masked: out 0, p 0, lse −∞, as in the forward
          for (Index c = 0; c < dv; ++c) a.out(b, h, i, c) = 0.0f;
          if (a.weights.defined())
            for (Index j = 0; j < lk; ++j) a.weights(b, h, i, j) = 0.0f;
          a.lse(b, h, i) = -std::numeric_limits<float>::infinity();
          continue;
        }
        // lse_i = m_i + log Σ_j exp(s_ij − m_i) over allowed keys.
        double row_max = minus_infinity;
        for (Index j = 0; j < lk; ++j)
          if (row.allowed[static_cast<std::size_t>(j)])
            row_max = std::max(row_max, row.score[static_cast<std::size_t>(j)]);
        double row_sum = 0.0;
        for (Index j = 0; j < lk; ++j)
          if (row.allowed[static_cast<std::size_t>(j)])
            row_sum += std::exp(row.score[static_cast<std::size_t>(j)] - row_max);
        // p_ij = exp(s_ij − m_i) / l_i; out_i = Σ_j p_ij z_ij v_j over allowed keys.
        std::vector<double> out(static_cast<std::size_t>(dv), 0.0);
        for (Index j = 0; j < lk; ++j) {
          const auto sj = static_cast<std::size_t>(j);
          const double pij = row.allowed[sj] ? std::exp(row.score[sj] - row_max) / row_sum : 0.0;
          if (a.weights.defined()) a.weights(b, h, i, j) = static_cast<float>(pij);
          if (!row.allowed[sj]) continue;
          const double weight = pij * dropout_factor(dropout, b, h, i, j);
          for (Index c = 0; c < dv; ++c)
            out[static_cast<std::size_t>(c)] += weight * static_cast<double>(a.v(b, g, j, c));
        }
        for (Index c = 0; c < dv; ++c)
          a.out(b, h, i, c) = static_cast<float>(out[static_cast<std::size_t>(c)]);
        a.lse(b, h, i) = static_cast<float>(row_max + std::log(row_sum));
      }
}

void attention_backward_reference(const AttentionBackwardArgs& a) {
  const AttentionParams& p = a.params;
  const Index batch = a.q.dim(0), heads = a.q.dim(1), lq = a.q.dim(2), d = a.q.dim(3);
  const Index kv_heads = a.k.dim(1), group = heads / kv_heads, lk = a.k.dim(2), dv = a.v.dim(3);
  // dK and dV sum over every query row of every head in a group: accumulate them in float64.
  Tensor<double> grad_k({batch, kv_heads, lk, d});
  Tensor<double> grad_v({batch, kv_heads, lk, dv});
  RowScores row{std::vector<double>(static_cast<std::size_t>(lk)),
                std::vector<bool>(static_cast<std::size_t>(lk)), false};
  std::vector<double> prob(static_cast<std::size_t>(lk)), grad_prob(static_cast<std::size_t>(lk));
  std::vector<double> grad_q_row(static_cast<std::size_t>(d));

  for (Index b = 0; b < batch; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < lq; ++i) {
        const Index g = h / group;
        std::fill(grad_q_row.begin(), grad_q_row.end(), 0.0);
        const double lse = a.lse(b, h, i);
        score_row(a.q, a.k, p, b, h, g, i, row);
        // A fully masked row produced a constant 0: it contributes nothing.
        if (lse != minus_infinity && row.any_allowed) {
          // Step 1: p_ij = exp(s_ij − lse_i); dP_ij = z_ij · dO_i·v_j; D_i = Σ_j p_ij dP_ij.
          double row_dot = 0.0;
          for (Index j = 0; j < lk; ++j) {
            const auto sj = static_cast<std::size_t>(j);
            prob[sj] = grad_prob[sj] = 0.0;
            if (!row.allowed[sj]) continue;
            prob[sj] = std::exp(row.score[sj] - lse);
            const double z = dropout_factor(a.dropout, b, h, i, j);
            double dot = 0.0;
            for (Index c = 0; c < dv; ++c)
              dot += static_cast<double>(a.grad_out(b, h, i, c)) *
                     static_cast<double>(a.v(b, g, j, c));
            grad_prob[sj] = z * dot;
            row_dot += prob[sj] * grad_prob[sj];
            // Step 2: dV_j += p_ij z_ij dO_i.
            for (Index c = 0; c < dv; ++c)
              grad_v(b, g, j, c) += prob[sj] * z * static_cast<double>(a.grad_out(b, h, i, c));
          }
          // Step 3: dS_ij = p_ij (dP_ij − D_i); dQ_i += scale dS_ij k_j; dK_j += scale dS_ij q_i.
          for (Index j = 0; j < lk; ++j) {
            const auto sj = static_cast<std::size_t>(j);
            if (!row.allowed[sj]) continue;
            const double grad_score = p.scale * prob[sj] * (grad_prob[sj] - row_dot);
            for (Index c = 0; c < d; ++c) {
              grad_q_row[static_cast<std::size_t>(c)] +=
                  grad_score * static_cast<double>(a.k(b, g, j, c));
              grad_k(b, g, j, c) += grad_score * static_cast<double>(a.q(b, h, i, c));
            }
          }
        }
        for (Index c = 0; c < d; ++c)
          a.grad_q(b, h, i, c) = static_cast<float>(grad_q_row[static_cast<std::size_t>(c)]);
      }

  for (Index b = 0; b < batch; ++b)
    for (Index g = 0; g < kv_heads; ++g)
      for (Index j = 0; j < lk; ++j) {
        for (Index c = 0; c < d; ++c) a.grad_k(b, g, j, c) = static_cast<float>(grad_k(b, g, j, c));
        for (Index c = 0; c < dv; ++c)
          a.grad_v(b, g, j, c) = static_cast<float>(grad_v(b, g, j, c));
      }
}

void linear_backward_reference(const LinearBackwardArgs& a) {
  const Index batch = a.x.dim(0), rows = a.x.dim(1), in = a.x.dim(2), out = a.weight.dim(0);
  if (a.grad_x.defined())  // dx_bri = Σ_o dy_bro W_oi
    for (Index b = 0; b < batch; ++b)
      for (Index r = 0; r < rows; ++r)
        for (Index i = 0; i < in; ++i) {
          double acc = 0.0;
          for (Index o = 0; o < out; ++o)
            acc += static_cast<double>(a.grad_y(b, r, o)) * static_cast<double>(a.weight(o, i));
          a.grad_x(b, r, i) = static_cast<float>(acc);
        }
  if (a.grad_weight.defined())  // dW_oi = Σ_b Σ_r dy_bro x_bri
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < in; ++i) {
        double acc = 0.0;
        for (Index b = 0; b < batch; ++b)
          for (Index r = 0; r < rows; ++r)
            acc += static_cast<double>(a.grad_y(b, r, o)) * static_cast<double>(a.x(b, r, i));
        a.grad_weight(o, i) = static_cast<float>(acc);
      }
  if (a.grad_bias.defined())  // db_o = Σ_b Σ_r dy_bro
    for (Index o = 0; o < out; ++o) {
      double acc = 0.0;
      for (Index b = 0; b < batch; ++b)
        for (Index r = 0; r < rows; ++r) acc += static_cast<double>(a.grad_y(b, r, o));
      a.grad_bias(o) = static_cast<float>(acc);
    }
}

}  // namespace mha
