// The oneDNN matmul cache behind run_matmul (onednn_matmul.hpp).
//
// A primitive fixes its OpenMP team size when it is created (from the nthreads ICV then), so the
// thread count is part of the key and the ICV is set while it is created and while it runs: a
// primitive made for 2 threads and run "with 1" still starts 2, whose spinning cost a 1-thread
// training step 4× on a loaded 2-core machine (measured: 100 steps of the relation task took
// 17.5 s against 4.1 s).
#include "kernels/cpu/onednn_matmul.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

namespace mha::cpu {
namespace {

using dnnl::memory;

// Distinct layouts kept at once. Varying sequence lengths (training on sentences, prefill) each
// make a layout; past this many the cache starts over rather than growing without bound.
constexpr std::size_t kMaxCachedLayouts = 512;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN's OpenMP runtime uses the calling thread's nthreads ICV; set it for one scope only.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()), active_(threads > 0) {
    if (active_) omp_set_num_threads(threads);
  }
  ~ScopedOmpThreads() {
    if (active_) omp_set_num_threads(previous_);
  }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int previous_;
  bool active_;
};

struct CachedMatmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;
};

memory::desc described(const std::vector<Index>& dims, const std::vector<Index>& strides) {
  return {memory::dims(dims.begin(), dims.end()), memory::data_type::f32,
          memory::dims(strides.begin(), strides.end())};
}

// Handles are reference-counted, so the copy returned stays valid if the cache starts over.
CachedMatmul matmul_for(const MatmulLayout& s) {
  static std::mutex mutex;
  static std::map<MatmulLayout, CachedMatmul> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(s); it != cache.end()) return it->second;
  const memory::desc src_md = described(s.src_dims, s.src_strides);
  const memory::desc weights_md = described(s.weights_dims, s.weights_strides);
  const memory::desc dst_md = described(s.dst_dims, s.dst_strides);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (s.scale != 1.0f) attr.set_output_scales(0, {s.scale});
  std::vector<Index> bias_dims(s.dst_dims.size(), 1);
  bias_dims.back() = s.dst_dims.back();
  std::vector<Index> bias_strides(bias_dims.size(), bias_dims.back());
  bias_strides.back() = 1;
  const memory::desc bias_md = described(bias_dims, bias_strides);
  const auto desc = s.bias ? dnnl::matmul::desc(src_md, weights_md, bias_md, dst_md)
                           : dnnl::matmul::desc(src_md, weights_md, dst_md);
  const ScopedOmpThreads team(s.threads);
  dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  if (cache.size() >= kMaxCachedLayouts) cache.clear();
  return cache.emplace(s, CachedMatmul{pd, dnnl::matmul(pd)}).first->second;
}

}  // namespace

void run_matmul(const MatmulLayout& layout, const float* src, const float* weights,
                const float* bias, float* dst, Workspace& workspace) {
  const CachedMatmul mm = matmul_for(layout);
  dnnl::engine& engine = cpu_engine();
  const memory::desc scratchpad = mm.pd.scratchpad_desc();
  std::uint8_t* scratch = workspace.get<std::uint8_t>(
      Workspace::Slot::matmul_scratchpad, std::max<Index>(static_cast<Index>(scratchpad.get_size()), 1));
  // oneDNN takes non-const handles; it only reads the inputs.
  std::unordered_map<int, memory> io = {
      {DNNL_ARG_SRC, memory(mm.pd.src_desc(), engine, const_cast<float*>(src))},
      {DNNL_ARG_WEIGHTS, memory(mm.pd.weights_desc(), engine, const_cast<float*>(weights))},
      {DNNL_ARG_DST, memory(mm.pd.dst_desc(), engine, dst)},
      {DNNL_ARG_SCRATCHPAD, memory(scratchpad, engine, scratch)}};
  if (layout.bias) io.emplace(DNNL_ARG_BIAS, memory(mm.pd.bias_desc(), engine, const_cast<float*>(bias)));
  const ScopedOmpThreads team(layout.threads);
  dnnl::stream stream(engine);
  mm.primitive.execute(stream, io);
  stream.wait();
}

}  // namespace mha::cpu
