// The fast CPU kernel is deterministic: each (batch, head, query tile) is computed by one thread
// in a fixed order, so results are bit-identical across runs and thread counts, and concurrent
// calls on the same inputs from many threads give the serial result.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/attention_cpu_problem.hpp"
#include "testing/threads_per_concurrent_call.hpp"

namespace mha::testing {
namespace {

ProblemSpec threaded_spec() {
  return {.batch = 2, .heads = 4, .kv_heads = 2, .lq = 130, .lk = 260, .d = 32, .dv = 32, .causal = true};
}

TEST(AttentionCpuThreads, RepeatedRunsAndThreadCountsAreBitIdentical) {
  Problem p(threaded_spec());
  const Problem::Result first = p.run(KernelKind::cpu, 2);
  for (int threads : {2, 1, 3}) {
    const Problem::Result again = p.run(KernelKind::cpu, threads);
    EXPECT_TRUE(bit_identical(first.out.view(), again.out.view())) << threads << " threads";
    EXPECT_TRUE(bit_identical(first.weights.view(), again.weights.view())) << threads << " threads";
    EXPECT_TRUE(bit_identical(first.lse.view(), again.lse.view())) << threads << " threads";
  }
}

TEST(AttentionCpuThreads, ConcurrentCallsGiveTheSerialResult) {
  Problem p(threaded_spec());
  const Problem::Result serial = p.run(KernelKind::cpu, 1);
  const TensorView<const float> q = p.q(), k = p.k(), v = p.v();
  const Shape out_shape = {2, 4, 130, 32};
  std::vector<Tensor<>> outs(8, Tensor<>(out_shape));
  std::vector<Tensor<>> weights(8, Tensor<>(p.mask_shape()));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < 8; ++t)
    workers.emplace_back([&, t] {
      AttentionArgs args{q, k, v, outs[t].view(), weights[t].view(), {}, p.params};
      attention(args, Context{KernelKind::cpu, kThreadsPerConcurrentCall});
    });
  for (std::thread& w : workers) w.join();
  const Tensor<> serial_out = Tensor<>::copy_of(TensorView<const float>(serial.out.data(), out_shape));
  for (std::size_t t = 0; t < 8; ++t) {
    EXPECT_TRUE(bit_identical(outs[t].view(), serial_out.view())) << "thread " << t;
    EXPECT_TRUE(bit_identical(weights[t].view(), serial.weights.view())) << "thread " << t;
  }
}

}  // namespace
}  // namespace mha::testing
