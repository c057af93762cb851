// Statistics over repeated runs (seeds): the summaries and tests an experiment page reports.
//
// For values x₁ … xₙ:
//   mean            x̄ = Σxᵢ / n
//   sample sd       s = √(Σ(xᵢ − x̄)² / (n − 1))                       (two passes; NaN for n < 2)
//   t-interval      x̄ ± t_{(1+c)/2, n−1} · s / √n  at confidence c     (NaN for n < 2)
// Welch's t-test of two samples a, b (unequal variances), with vₐ = sₐ²/nₐ, v_b = s_b²/n_b:
//   t    = (x̄ₐ − x̄_b) / √(vₐ + v_b)
//   dof  = (vₐ + v_b)² / (vₐ²/(nₐ − 1) + v_b²/(n_b − 1))               (Welch–Satterthwaite)
//   p    = 2 · (1 − F_t(|t|; dof))                                     (two-sided)
//   difference interval: (x̄ₐ − x̄_b) ± t_{(1+c)/2, dof} · √(vₐ + v_b)
// Student's t CDF through the regularized incomplete beta function Iₓ(a, b):
//   F_t(t; ν) = 1 − ½ · I_{ν/(ν+t²)}(ν/2, ½)  for t ≥ 0, and F_t(−t) = 1 − F_t(t),
// with Iₓ(a, b) from its continued fraction (modified Lentz; Numerical Recipes §6.4), using the
// symmetry Iₓ(a, b) = 1 − I₁₋ₓ(b, a) where x > (a + 1)/(a + b + 2) so the fraction converges
// fast. The quantile t_{p, ν} inverts the CDF by bisection (to ~1e-12 relative), so it is exact to
// the precision the tables quote: t_{0.975, 9} = 2.262157, t_{0.975, ∞} → 1.959964.
//
// Undefined cases return NaN, never throw: n < 2 in either sample; both samples without spread
// (sₐ = s_b = 0: the test has no noise estimate, whether or not the means differ).
#pragma once

#include <span>

#include "mha/core/shape.hpp"

namespace mha::train {

struct Summary {
  Index count = 0;
  double mean = 0, sd = 0, min = 0, max = 0;  // mean/min/max: NaN when empty; sd: NaN for n < 2
  double half_width = 0;                      // of the t-interval; NaN for n < 2
  double low = 0, high = 0;                   // mean ∓ half_width
  double confidence = 0.95;
};

// Mean, sample sd, min, max and the Student's t interval at `confidence` ∈ (0, 1).
// Throws mha::Error naming `confidence` outside (0, 1).
Summary summarize(std::span<const double> values, double confidence = 0.95);

struct WelchTest {
  double difference = 0;      // x̄ₐ − x̄_b
  double standard_error = 0;  // √(sₐ²/nₐ + s_b²/n_b)
  double t = 0, dof = 0;
  double p_value = 0;         // two-sided
  double low = 0, high = 0;   // interval of the difference at `confidence`
  double confidence = 0.95;
};

// Welch's unequal-variance t-test of mean(a) = mean(b). NaN fields (difference aside, which is
// NaN only when a sample is empty) in the undefined cases above.
WelchTest welch_t_test(std::span<const double> a, std::span<const double> b,
                       double confidence = 0.95);

// Iₓ(a, b) for a, b > 0 and x ∈ [0, 1]; throws mha::Error naming the argument otherwise.
double regularized_incomplete_beta(double a, double b, double x);
// P(T ≤ t) for Student's t with ν > 0 degrees of freedom (ν may be fractional, e.g. Welch's);
// ν = +∞ gives the normal CDF. Throws mha::Error naming `dof` for ν ≤ 0 or NaN.
double student_t_cdf(double t, double dof);
// The p-quantile, p ∈ (0, 1): student_t_cdf(student_t_quantile(p, ν), ν) = p.
// Throws mha::Error naming `p` or `dof`.
double student_t_quantile(double p, double dof);

}  // namespace mha::train
