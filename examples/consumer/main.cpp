// Self-attention over 5 tokens of width 16 with 4 heads, through the installed mha package.
#include <cstdio>
#include <mha/mha.hpp>

int main() {
  const mha::MhaConfig config{.embed_dim = 16, .num_heads = 4, .batch_first = true};
  const auto layer = mha::MultiHeadAttention::random(config, /*seed=*/7);

  mha::Tensor<> x({1, 5, 16});  // (batch, tokens, embed_dim)
  for (mha::Index i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i % 7) * 0.1f;

  mha::MhaOptions options;
  options.need_weights = true;
  const mha::MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options);

  std::printf("output %s, weights %s, weight[0][0][0] = %.4f\n",
              mha::shape_str(out.output.shape()).c_str(), mha::shape_str(out.weights.shape()).c_str(),
              static_cast<double>(out.weights(0, 0, 0)));
  return 0;
}
