// Next-token sampling: greedy is the argmax, temperature reshapes the softmax, top-k and top-p
// keep the most probable ids (at least one), a seed reproduces the draws, and the draws follow
// the distribution.
#include "mha/train/token_sampling.hpp"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/error.hpp"

namespace mha::train {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.0f, 3.0f};

std::vector<double> softmax(const std::vector<float>& z, double t) {
  std::vector<double> p;
  double sum = 0;
  for (const float v : z) sum += std::exp(v / t);
  for (const float v : z) p.push_back(std::exp(v / t) / sum);
  return p;
}

TEST(TokenSampling, GreedyIsTheFirstArgmaxAndDrawsNothing) {
  std::mt19937_64 rng(1), untouched(1);
  EXPECT_EQ(sample_token(kLogits, {.temperature = 0}, rng), 1);
  EXPECT_EQ(rng(), untouched()) << "greedy must not consume the generator";
  const std::vector<double> p = sampling_distribution(kLogits, {.temperature = 0});
  EXPECT_EQ(p, (std::vector<double>{0, 1, 0, 0, 0}));
}

TEST(TokenSampling, TemperatureScalesTheSoftmax) {
  for (const double t : {0.5, 1.0, 2.0}) {
    const std::vector<double> p = sampling_distribution(kLogits, {.temperature = t});
    const std::vector<double> expected = softmax(kLogits, t);
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], expected[i], 1e-12) << "T " << t << " id " << i;
  }
}

TEST(TokenSampling, TopKKeepsTheKMostProbableTiesByIdAndRenormalises) {
  const std::vector<double> p = sampling_distribution(kLogits, {.temperature = 1, .top_k = 2});
  // ids 1 and 4 tie at 3.0: both kept, and nothing else.
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_NEAR(p[4], 0.5, 1e-12);
  EXPECT_EQ(p[0] + p[2] + p[3], 0.0);
  const std::vector<double> one = sampling_distribution(kLogits, {.temperature = 1, .top_k = 1});
  EXPECT_EQ(one[1], 1.0) << "of equal maxima, the lower id comes first";
}

TEST(TokenSampling, TopPKeepsTheFewestIdsReachingTheMass) {
  const std::vector<double> full = softmax(kLogits, 1);  // ≈ .039 .287 .106 .014 .287 (sorted: 1 4 2 0 3)
  // P just above p1 + p4 needs id 2 as well; exactly p1 stops at id 1.
  const std::vector<double> p = sampling_distribution(kLogits, {.temperature = 1, .top_p = full[1] + full[4] + 1e-6});
  EXPECT_GT(p[1], 0);
  EXPECT_GT(p[4], 0);
  EXPECT_GT(p[2], 0);
  EXPECT_EQ(p[0] + p[3], 0.0);
  EXPECT_NEAR(p[1] + p[4] + p[2], 1.0, 1e-12);
  const std::vector<double> tiny = sampling_distribution(kLogits, {.temperature = 1, .top_p = 1e-9});
  EXPECT_EQ(tiny[1], 1.0) << "top-p keeps at least the most probable id";
  // After top-k the mass is that of the renormalised k ids: top-k 2, top-p 0.5 keeps id 1 only.
  EXPECT_EQ(sampling_distribution(kLogits, {.temperature = 1, .top_k = 2, .top_p = 0.5})[1], 1.0);
}

TEST(TokenSampling, ASeedReproducesTheDrawsAndTheyFollowTheDistribution) {
  const SamplingParams params{.temperature = 1.0, .top_k = 3};
  std::mt19937_64 a(42), b(42);
  std::vector<std::int64_t> first, second;
  for (int i = 0; i < 200; ++i) first.push_back(sample_token(kLogits, params, a));
  for (int i = 0; i < 200; ++i) second.push_back(sample_token(kLogits, params, b));
  EXPECT_EQ(first, second);
  // 20000 draws: each kept id's frequency within 4 standard deviations of its probability.
  const std::vector<double> p = sampling_distribution(kLogits, params);
  std::vector<int> counts(kLogits.size(), 0);
  std::mt19937_64 rng(7);
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(sample_token(kLogits, params, rng))];
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double sd = std::sqrt(p[i] * (1 - p[i]) / n);
    EXPECT_NEAR(counts[i] / double(n), p[i], 4 * sd + 1e-12) << "id " << i;
  }
}

TEST(TokenSampling, RejectsBadSettingsNamingThem) {
  std::mt19937_64 rng(0);
  auto message = [&](const SamplingParams& s) {
    try {
      sample_token(kLogits, s, rng);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.temperature = -1}).find("temperature"), std::string::npos);
  EXPECT_NE(message({.temperature = NAN}).find("temperature"), std::string::npos);
  EXPECT_NE(message({.top_k = -2}).find("top_k"), std::string::npos);
  EXPECT_NE(message({.top_p = 0}).find("top_p"), std::string::npos);
  EXPECT_NE(message({.top_p = 1.5}).find("top_p"), std::string::npos);
  EXPECT_THROW(sample_token(std::vector<float>{}, {}, rng), Error);
}

}  // namespace
}  // namespace mha::train
