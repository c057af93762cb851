// Streaming-read bandwidth: how fast `threads` threads can pull bytes from main memory when each
// reads its own part of one buffer front to back. This is the roof of a decode step, which reads
// every cached key and value once and does 0.5 FLOP per fp32 byte (numerics.md), so
// `mha bench --decode` reports its GB/s as a fraction of this number, measured in the same run.
//
// Why it is built this way:
// - The buffer is at least 4× the last-level cache (and at least 256 MiB), so each pass streams
//   from DRAM and not from L3.
// - Every page is written once before timing (first-touch page faults cost ~3 µs per 4 KiB here,
//   more than reading the page), by the thread that later reads it.
// - Loads are full SIMD vectors (Highway, the widest target the dispatcher picks) into
//   independent sums, from several streams per thread (kStreams, below), so the loop asks for
//   far more bytes per cycle than memory can serve: the probe is bound by memory, not by
//   instructions, one add chain's latency or one prefetch stream.
// - Best of a few passes: the machine is shared, and noise only ever makes a pass slower.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/read_bandwidth.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Streams read at once by one thread, each into its own accumulator. One stream per thread
// leaves the hardware prefetcher short of requests in flight: on this machine (AMD EPYC VM,
// AVX2, 2 threads, 1 GiB buffer, load ~5) 1 stream read 6.5–7.5 GB/s, 4 streams 9.3–9.9 and 8
// streams 11.0–11.1; the decode kernel, which reads a key and a value stream per thread, beat
// the one-stream probe.
constexpr std::size_t kStreams = 8;

// Σ data[0, count): kStreams equal, consecutive sub-ranges read side by side, one 64-byte line
// (or one vector, if wider) from each per round with aligned loads (data is 64-byte aligned);
// the remainder summed one element at a time.
float SumStream(const float* data, std::size_t count) {
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df), line = std::max<std::size_t>(lanes, 16);
  const std::size_t per_stream = count / kStreams / line * line;
  hn::Vec<decltype(df)> acc[kStreams];
  for (auto& a : acc) a = hn::Zero(df);
  for (std::size_t i = 0; i < per_stream; i += line)
    for (std::size_t k = 0; k < kStreams; ++k)
      for (std::size_t j = 0; j < line; j += lanes)
        acc[k] = hn::Add(acc[k], hn::Load(df, data + k * per_stream + i + j));
  for (std::size_t k = 1; k < kStreams; ++k) acc[0] = hn::Add(acc[0], acc[k]);
  float total = hn::GetLane(hn::SumOfLanes(df, acc[0]));
  for (std::size_t i = kStreams * per_stream; i < count; ++i) total += data[i];
  return total;
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "mha/core/aligned_memory.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace cpu {
HWY_EXPORT(SumStream);

namespace {

// The largest cache sysfs lists for cpu0 ("32768K"), or 0.
std::size_t sysfs_largest_cache_bytes() {
  std::size_t largest = 0;
  for (int index = 0; index < 8; ++index) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    std::string text;
    if (!(in >> text) || text.empty()) continue;
    std::size_t scale = 1;
    const char unit = text.back();
    if (unit == 'K') scale = std::size_t{1} << 10;
    if (unit == 'M') scale = std::size_t{1} << 20;
    if (unit == 'G') scale = std::size_t{1} << 30;
    try {
      largest = std::max(largest, static_cast<std::size_t>(std::stoull(text)) * scale);
    } catch (const std::exception&) {
    }
  }
  return largest;
}

}  // namespace
}  // namespace cpu

std::size_t last_level_cache_bytes() {
  // sysfs and glibc disagree on some virtual machines (this one: sysfs 32 MiB, sysconf 256 MiB,
  // the whole socket's L3); the larger is the safe choice for "bigger than the cache".
  const long from_sysconf = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const std::size_t llc = std::max(cpu::sysfs_largest_cache_bytes(),
                                   from_sysconf > 0 ? static_cast<std::size_t>(from_sysconf) : 0);
  return llc > 0 ? llc : std::size_t{32} << 20;  // a guess when neither says
}

double measure_read_bandwidth_gbps(int threads) {
  const int team = threads > 0 ? threads : omp_get_max_threads();
  const std::size_t bytes = std::max(4 * last_level_cache_bytes(), std::size_t{256} << 20);
  const std::size_t count = bytes / sizeof(float);
  const std::unique_ptr<float, decltype(&aligned_memory::release)> buffer(
      static_cast<float*>(aligned_memory::allocate(count * sizeof(float))), aligned_memory::release);
  float* const data = buffer.get();
  // Thread t owns [first(t), first(t + 1)), each part a whole number of 64-byte lines.
  const auto first = [&](int t) {
    const std::size_t per_thread = count / static_cast<std::size_t>(team) / 16 * 16;
    return t == team ? count : static_cast<std::size_t>(t) * per_thread;
  };

#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    std::fill(data + first(t), data + first(t + 1), 1.0f);  // the pages, faulted in by their reader
  }

  double best = 0.0;
  for (int run = 0; run < 4; ++run) {
    double total = 0.0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(team) reduction(+ : total)
    {
      const int t = omp_get_thread_num();
      total += HWY_DYNAMIC_DISPATCH(cpu::SumStream)(data + first(t), first(t + 1) - first(t));
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    // The sum of ones is positive; using it keeps the loads from being optimised away.
    const double read = total > 0.0 ? static_cast<double>(count * sizeof(float)) : 0.0;
    best = std::max(best, read / seconds.count() * 1e-9);
  }
  return best;
}

}  // namespace mha
#endif
