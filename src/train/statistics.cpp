// Summaries, Student's t and Welch's test; the formulas are in mha/train/statistics.hpp.
#include "mha/train/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "mha/core/error.hpp"

namespace mha::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string number(double x) { return std::to_string(x); }

void check_confidence(double confidence) {
  if (!(confidence > 0 && confidence < 1))
    throw_invalid("confidence", "a level in (0, 1)", number(confidence));
}

void check_dof(double dof) {
  if (!(dof > 0)) throw_invalid("dof", "degrees of freedom > 0", number(dof));
}

// The continued fraction of Iₓ(a, b) (Numerical Recipes §6.4, eq. 6.4.5):
//   Iₓ(a, b) = xᵃ(1 − x)ᵇ / (a·B(a, b)) · 1/(1 + d₁/(1 + d₂/(1 + …)))
//   d₂ₘ₊₁ = −(a + m)(a + b + m)·x / ((a + 2m)(a + 2m + 1)),  d₂ₘ = m(b − m)·x / ((a + 2m − 1)(a + 2m))
// evaluated by the modified Lentz method; it converges in O(√max(a, b)) terms for
// x < (a + 1)/(a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr int kMaxTerms = 100000;
  constexpr double kEps = 1e-15, kTiny = 1e-300;
  auto guard = [](double v) { return std::abs(v) < kTiny ? kTiny : v; };
  double c = 1, d = 1 / guard(1 - (a + b) * x / (a + 1));
  double f = d;
  for (int m = 1; m <= kMaxTerms; ++m) {
    const double md = m;
    const double even = md * (b - md) * x / ((a + 2 * md - 1) * (a + 2 * md));
    d = 1 / guard(1 + even * d);
    c = guard(1 + even / c);
    f *= d * c;
    const double odd = -(a + md) * (a + b + md) * x / ((a + 2 * md) * (a + 2 * md + 1));
    d = 1 / guard(1 + odd * d);
    c = guard(1 + odd / c);
    const double delta = d * c;
    f *= delta;
    if (std::abs(delta - 1) < kEps) break;
  }
  return f;
}

// P(T > t) for t ≥ 0: ½·I_{ν/(ν+t²)}(ν/2, ½); the normal tail for ν = ∞. Computing the tail
// itself (not 1 − CDF) keeps small p-values and the 0.975 quantile accurate.
double upper_tail(double t, double dof) {
  if (std::isinf(t)) return 0;
  if (std::isinf(dof)) return 0.5 * std::erfc(t / std::sqrt(2.0));
  return 0.5 * regularized_incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
}

// t ≥ 0 with upper_tail(t) = tail ∈ (0, ½], by bisection on a doubling bracket.
double upper_quantile(double tail, double dof) {
  double lo = 0, hi = 1;
  while (upper_tail(hi, dof) > tail) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return std::numeric_limits<double>::infinity();
  }
  for (int i = 0; i < 400 && hi - lo > 1e-14 * hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    (upper_tail(mid, dof) > tail ? lo : hi) = mid;
  }
  return lo + (hi - lo) / 2;
}

double mean_of(std::span<const double> values) {
  double sum = 0;
  for (const double x : values) sum += x;
  return sum / static_cast<double>(values.size());
}

// Σ(xᵢ − x̄)² / (n − 1), in two passes (Σx² − n·x̄² cancels); NaN for n < 2.
double variance_of(std::span<const double> values, double mean) {
  if (values.size() < 2) return kNaN;
  double squares = 0;
  for (const double x : values) squares += (x - mean) * (x - mean);
  return squares / static_cast<double>(values.size() - 1);
}

}  // namespace

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0)) throw_invalid("a", "a > 0", number(a));
  if (!(b > 0)) throw_invalid("b", "b > 0", number(b));
  if (!(x >= 0 && x <= 1)) throw_invalid("x", "x in [0, 1]", number(x));
  if (x == 0) return 0;
  if (x == 1) return 1;
  // xᵃ(1 − x)ᵇ / B(a, b), with B(a, b) = Γ(a)Γ(b)/Γ(a + b), in logarithms.
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  // Iₓ(a, b) = 1 − I₁₋ₓ(b, a): use the side where the fraction converges fast.
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double dof) {
  check_dof(dof);
  if (std::isnan(t)) return kNaN;
  return t >= 0 ? 1 - upper_tail(t, dof) : upper_tail(-t, dof);
}

double student_t_quantile(double p, double dof) {
  if (!(p > 0 && p < 1)) throw_invalid("p", "a probability in (0, 1)", number(p));
  check_dof(dof);
  if (p == 0.5) return 0;
  return p > 0.5 ? upper_quantile(1 - p, dof) : -upper_quantile(p, dof);
}

Summary summarize(std::span<const double> values, double confidence) {
  check_confidence(confidence);
  Summary s{.count = static_cast<Index>(values.size()),
            .mean = kNaN,
            .sd = kNaN,
            .min = kNaN,
            .max = kNaN,
            .half_width = kNaN,
            .low = kNaN,
            .high = kNaN,
            .confidence = confidence};
  if (values.empty()) return s;
  s.mean = mean_of(values);
  s.sd = std::sqrt(variance_of(values, s.mean));
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  if (values.size() >= 2) {
    const double n = static_cast<double>(values.size());
    s.half_width = student_t_quantile((1 + confidence) / 2, n - 1) * s.sd / std::sqrt(n);
    s.low = s.mean - s.half_width;
    s.high = s.mean + s.half_width;
  }
  return s;
}

WelchTest welch_t_test(std::span<const double> a, std::span<const double> b, double confidence) {
  check_confidence(confidence);
  WelchTest w{.difference = kNaN,
              .standard_error = kNaN,
              .t = kNaN,
              .dof = kNaN,
              .p_value = kNaN,
              .low = kNaN,
              .high = kNaN,
              .confidence = confidence};
  if (a.empty() || b.empty()) return w;
  const double mean_a = mean_of(a), mean_b = mean_of(b);
  w.difference = mean_a - mean_b;
  if (a.size() < 2 || b.size() < 2) return w;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = variance_of(a, mean_a) / na, vb = variance_of(b, mean_b) / nb;
  w.standard_error = std::sqrt(va + vb);
  if (!(va + vb > 0)) return w;  // no spread in either sample: no noise estimate
  w.t = w.difference / w.standard_error;
  w.dof = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  w.p_value = std::min(1.0, 2 * upper_tail(std::abs(w.t), w.dof));
  const double half = student_t_quantile((1 + confidence) / 2, w.dof) * w.standard_error;
  w.low = w.difference - half;
  w.high = w.difference + half;
  return w;
}

}  // namespace mha::train
