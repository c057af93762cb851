// MultiHeadAttention::forward with a lent workspace: the same results, bit for bit, as without
// one, whatever the workspace held before (NaN here) and whichever shapes came before.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/workspace.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "testing/allclose.hpp"
#include "testing/poisoned_workspace.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

struct Case {
  MhaConfig config;
  Index batch, len, src_len;
  bool self_attention;
};

class MhaWorkspace : public ::testing::TestWithParam<KernelKind> {};

TEST_P(MhaWorkspace, ForwardMatchesTheCallWithoutOne) {
  const Case cases[] = {
      // fused QKV projection, heads written over the queries of the fused rows
      {{.embed_dim = 32, .num_heads = 4, .batch_first = true}, 2, 40, 40, true},
      // separate projections with the appended bias_k/bias_v and zero positions (the zero row
      // must be written, not assumed), GQA, other key/value widths
      {{.embed_dim = 24, .num_heads = 6, .num_kv_heads = 3, .kdim = 10, .vdim = 7,
        .add_bias_kv = true, .add_zero_attn = true, .batch_first = true}, 3, 9, 13, false},
      // a larger fused problem after a smaller one, then a smaller one again
      {{.embed_dim = 64, .num_heads = 8, .batch_first = true}, 1, 150, 150, true},
      {{.embed_dim = 16, .num_heads = 2, .batch_first = true}, 1, 5, 5, true},
  };
  Workspace ws;
  testing::poison(ws, Index{4} << 16);  // 64 Ki floats per slot: more than any case needs
  for (const Case& c : cases) {
    const MultiHeadAttention layer = MultiHeadAttention::random(c.config, 7);
    const Tensor<> q = testing::random_tensor({c.batch, c.len, c.config.embed_dim}, 1);
    const Tensor<> k = testing::random_tensor({c.batch, c.src_len, layer.config().kdim}, 2);
    const Tensor<> v = testing::random_tensor({c.batch, c.src_len, layer.config().vdim}, 3);
    const TensorView<const float> kv = c.self_attention ? q.view() : k.view();
    const TensorView<const float> vv = c.self_attention ? q.view() : v.view();
    MhaOptions options;
    options.need_weights = true;
    options.average_attn_weights = false;
    options.is_causal = c.self_attention;
    const MhaOutput fresh = layer.forward(q.view(), kv, vv, options, Context{GetParam(), 0});
    Context ctx{GetParam(), 0};
    ctx.workspace = &ws;
    for (int call = 0; call < 2; ++call) {  // the second call reuses what the first left
      const MhaOutput lent = layer.forward(q.view(), kv, vv, options, ctx);
      EXPECT_TRUE(testing::bit_identical(lent.output.view(), fresh.output.view())) << "output";
      EXPECT_TRUE(testing::bit_identical(lent.weights.view(), fresh.weights.view())) << "weights";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, MhaWorkspace,
                         ::testing::Values(KernelKind::reference, KernelKind::cpu),
                         [](const ::testing::TestParamInfo<KernelKind>& param_info) {
                           return std::string(kernel_name(param_info.param));
                         });

// A workspace serves one call at a time, so each thread lends its own; the layer is shared.
// (Named for the ThreadSanitizer preset's filter. One OpenMP thread per call: libgomp is not
// built with TSan.)
TEST(MhaWorkspaceThreads, SharedLayerFromEightThreadsWithOwnWorkspaces) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 32, .num_heads = 4, .batch_first = true}, 11);
  const Tensor<> x = testing::random_tensor({2, 50, 32}, 12);
  MhaOptions options;
  options.is_causal = true;
  const MhaOutput serial = layer.forward(x.view(), x.view(), x.view(), options, Context{KernelKind::cpu, 1});
  constexpr int kThreads = 8;
  std::vector<Tensor<>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Workspace own;
      Context ctx{KernelKind::cpu, 1};
      ctx.workspace = &own;
      for (int repeat = 0; repeat < 3; ++repeat)
        results[static_cast<std::size_t>(t)] = layer.forward(x.view(), x.view(), x.view(), options, ctx).output;
    });
  for (std::thread& t : threads) t.join();
  for (const Tensor<>& r : results)
    EXPECT_TRUE(testing::bit_identical(r.view(), serial.output.view())) << "output";
}

}  // namespace
}  // namespace mha
