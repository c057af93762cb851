// Writes a synthetic head view page for the browser tests: any length (the tiny BERT fixture stops
// at 64 positions, the tests want 512) and tokens that try to break out of the page.
//
//   mha_head_view_test_page OUT.html LENGTH LAYERS HEADS
//
// Queries and keys are seeded random [H, L, D] tensors and the weights are their softmax
// (p = softmax_j(q_i·k_j / √D)), so the page's drill-down must agree with its stored weights.
// Tokens 1 and 2 are hostile ("</script><script>…", an <img onerror>); the rest are "w<i>".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/viz/head_view_html.hpp"
#include "mha/viz/query_key.hpp"

namespace {

mha::viz::QueryKey random_query_key(mha::Index heads, mha::Index length, mha::Index head_dim,
                                    std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0F, 1.5F);
  mha::viz::QueryKey qk{.queries = mha::Tensor<>({heads, length, head_dim}),
                        .keys = mha::Tensor<>({heads, length, head_dim}),
                        .scale = 1.0 / std::sqrt(static_cast<double>(head_dim))};
  for (float& x : qk.queries.values()) x = normal(rng);
  for (float& x : qk.keys.values()) x = normal(rng);
  return qk;
}

// Row-wise softmax of [H, L, L] scores.
mha::Tensor<> softmax_rows(mha::Tensor<> scores) {
  const mha::Index columns = scores.dim(2);
  for (float* row = scores.data(); row < scores.data() + scores.numel(); row += columns) {
    double max = row[0], total = 0;
    for (mha::Index j = 0; j < columns; ++j) max = std::max(max, double(row[j]));
    for (mha::Index j = 0; j < columns; ++j) total += std::exp(double(row[j]) - max);
    for (mha::Index j = 0; j < columns; ++j) row[j] = static_cast<float>(std::exp(double(row[j]) - max) / total);
  }
  return scores;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s OUT.html LENGTH LAYERS HEADS\n", argv[0]);
    return 2;
  }
  try {
    const mha::Index length = std::atol(argv[2]), layers = std::atol(argv[3]), heads = std::atol(argv[4]);
    const mha::Index head_dim = 16;
    std::mt19937 rng(42);
    mha::viz::HeadViewData data;
    data.title = "synthetic </title><script>alert('title')</script> page";
    for (mha::Index i = 0; i < length; ++i) data.tokens.push_back("w" + std::to_string(i));
    if (length > 2) {
      data.tokens[1] = "</script><script>alert(1)</script>";
      data.tokens[2] = "<img src=x onerror=alert(2)>\u2028&amp;";
    }
    for (mha::Index n = 0; n < layers; ++n) {
      data.query_key.push_back(random_query_key(heads, length, head_dim, rng));
      data.attention.push_back(softmax_rows(mha::viz::attention_scores(data.query_key.back())));
    }
    std::ofstream out(argv[1], std::ios::binary);
    mha::viz::write_head_view_html(data, out);
    return out ? 0 : 1;
  } catch (const mha::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
