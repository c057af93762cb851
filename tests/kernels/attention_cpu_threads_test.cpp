// The fast CPU kernel is deterministic on both paths: repeated runs with the same thread count
// are bit-identical, and concurrent calls on the same inputs from many threads give the serial
// result. The fused path computes each (batch, head, query tile) on one thread in a fixed order,
// so it also gives the same bits for any thread count.
#include <string>
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

void expect_bit_identical(const Problem::Result& a, const Problem::Result& b) {
  EXPECT_TRUE(bit_identical(a.out.view(), b.out.view()));
  EXPECT_TRUE(bit_identical(a.weights.view(), b.weights.view()));
  EXPECT_TRUE(bit_identical(a.lse.view(), b.lse.view()));
}

TEST(AttentionCpuThreads, RepeatedRunsAreBitIdentical) {
  for (const AttentionPath path : kCpuPaths)
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(std::string(path_name(path)) + ", " + std::to_string(threads) + " threads");
      Problem p(threaded_spec());
      expect_bit_identical(p.run(KernelKind::cpu, threads, path), p.run(KernelKind::cpu, threads, path));
    }
}

// Only the fused path promises this: oneDNN picks its blocking, and so its rounding, by the
// size of the team (the unfused path at 3 threads differs from 1 and 2 in the last bit).
TEST(AttentionCpuThreads, FusedPathIsBitIdenticalAcrossThreadCounts) {
  Problem p(threaded_spec());
  const Problem::Result first = p.run(KernelKind::cpu, 2, AttentionPath::fused);
  for (int threads : {1, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    expect_bit_identical(first, p.run(KernelKind::cpu, threads, AttentionPath::fused));
  }
}

// Eight calls at once on the same inputs, each with the thread count the serial call used.
void expect_concurrent_calls_match_serial(AttentionPath path) {
  Problem p(threaded_spec());
  const Problem::Result serial = p.run(KernelKind::cpu, kThreadsPerConcurrentCall, path);
  const TensorView<const float> q = p.q(), k = p.k(), v = p.v();
  const Shape out_shape = {2, 4, 130, 32};
  std::vector<Tensor<>> outs(8, Tensor<>(out_shape));
  std::vector<Tensor<>> weights(8, Tensor<>(p.mask_shape()));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < 8; ++t)
    workers.emplace_back([&, t] {
      AttentionArgs args{q, k, v, outs[t].view(), weights[t].view(), {}, p.params};
      Context ctx{KernelKind::cpu, kThreadsPerConcurrentCall};
      ctx.attention_path = path;
      attention(args, ctx);
    });
  for (std::thread& w : workers) w.join();
  const Tensor<> serial_out = Tensor<>::copy_of(TensorView<const float>(serial.out.data(), out_shape));
  for (std::size_t t = 0; t < 8; ++t) {
    EXPECT_TRUE(bit_identical(outs[t].view(), serial_out.view())) << "thread " << t;
    EXPECT_TRUE(bit_identical(weights[t].view(), serial.weights.view())) << "thread " << t;
  }
}

TEST(AttentionCpuThreads, ConcurrentCallsGiveTheSerialResult) {
  for (const AttentionPath path : kCpuPaths) {
    SCOPED_TRACE(path_name(path));
    expect_concurrent_calls_match_serial(path);
  }
}

}  // namespace
}  // namespace mha::testing
