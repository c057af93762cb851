// y = x·Wᵀ + b through oneDNN's matmul.
//
//   x: [B, R, In] → rows [M = B·R, K = In]   weight: [Out, In] read as Wᵀ [K, N = Out] through
//   strides (no copy)   bias: [1, N], fused   y: [B, R, Out] → rows [M, N]
//
// Rows are passed with their leading dimension when a view collapses to [M, ·] with unit stride
// along the features (every layout the layer uses); any other view is packed into a contiguous
// copy first. Primitives are created once per (shape, strides) and kept in a process-wide cache:
// creating one costs far more than running a small one. They use a user-provided scratchpad, so a
// cached primitive can run from any thread at once. A primitive fixes its OpenMP team size when it
// is created (from the nthreads ICV then), so the thread count is part of the key and the ICV is
// set while it is created: a primitive made for 2 threads and run "with 1" still starts 2, whose
// spinning cost a 1-thread training step 4× on a loaded 2-core machine (measured: 100 steps of
// the relation task took 17.5 s against 4.1 s).
#include "kernels/cpu/linear_onednn.hpp"

#include <omp.h>

#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace mha {
namespace {

using dnnl::memory;

struct MatmulShape {
  Index m, k, n, ldx, ldw, ldy;
  bool bias;
  int threads;  // the OpenMP team the primitive is created for
  auto operator<=>(const MatmulShape&) const = default;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct CachedMatmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;
};

// oneDNN's OpenMP runtime uses the calling thread's nthreads ICV; set it for this call only.
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

const CachedMatmul& matmul_for(const MatmulShape& s) {
  static std::mutex mutex;
  static std::map<MatmulShape, CachedMatmul> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(s); it != cache.end()) return it->second;
  const memory::desc x_md({s.m, s.k}, memory::data_type::f32, memory::dims{s.ldx, 1});
  // Wᵀ[i][o] = W[o][i]: stride 1 along In, ldw along Out.
  const memory::desc w_md({s.k, s.n}, memory::data_type::f32, memory::dims{1, s.ldw});
  const memory::desc b_md({1, s.n}, memory::data_type::f32, memory::dims{s.n, 1});
  const memory::desc y_md({s.m, s.n}, memory::data_type::f32, memory::dims{s.ldy, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto desc = s.bias ? dnnl::matmul::desc(x_md, w_md, b_md, y_md)
                           : dnnl::matmul::desc(x_md, w_md, y_md);
  const ScopedOmpThreads team(s.threads);
  dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  dnnl::matmul primitive(pd);
  return cache.emplace(s, CachedMatmul{pd, primitive}).first->second;
}

// A [B, R, C] view as rows of a [B·R, C] matrix: the row pitch, when the view has one.
template <class T>
std::optional<Index> row_pitch(const TensorView<T>& v) {
  const Index batch = v.dim(0), rows = v.dim(1), cols = v.dim(2);
  if (v.stride(2) != 1 && cols > 1) return std::nullopt;
  Index pitch = 0;
  if (batch == 1 || rows == 1)
    pitch = rows == 1 ? v.stride(0) : v.stride(1);
  else if (v.stride(0) == rows * v.stride(1))
    pitch = v.stride(1);
  else
    return std::nullopt;
  if (batch * rows == 1) pitch = cols;
  if (pitch < cols) return std::nullopt;  // overlapping rows (broadcast): pack instead
  return pitch;
}

// Contiguous [B·R, C] copy of a [B, R, C] view.
std::vector<float> packed_rows(const TensorView<const float>& v) {
  std::vector<float> out(static_cast<std::size_t>(v.numel()));
  std::size_t n = 0;
  for (Index b = 0; b < v.dim(0); ++b)
    for (Index r = 0; r < v.dim(1); ++r)
      for (Index c = 0; c < v.dim(2); ++c) out[n++] = v(b, r, c);
  return out;
}

}  // namespace

void linear_onednn(const LinearArgs& a, const Context& ctx) {
  const Index batch = a.x.dim(0), rows = a.x.dim(1), in = a.x.dim(2), out = a.weight.dim(0);
  const Index m = batch * rows;
  if (m == 0 || out == 0) return;
  if (in == 0) {  // y = b (an empty sum); oneDNN rejects zero-sized reductions
    for (Index b = 0; b < batch; ++b)
      for (Index r = 0; r < rows; ++r)
        for (Index o = 0; o < out; ++o) a.y(b, r, o) = a.bias.defined() ? a.bias(o) : 0.0f;
    return;
  }

  const std::optional<Index> x_pitch = row_pitch(a.x);
  std::vector<float> x_copy;
  if (!x_pitch) x_copy = packed_rows(a.x);
  const float* x = x_pitch ? a.x.data() : x_copy.data();

  std::vector<float> w_copy, b_copy;
  const bool w_rows = a.weight.stride(1) == 1 && a.weight.stride(0) >= in;
  if (!w_rows) w_copy = packed_rows({a.weight.data(), {1, out, in}, {0, a.weight.stride(0), a.weight.stride(1)}});
  const float* w = w_rows ? a.weight.data() : w_copy.data();
  const bool bias = a.bias.defined();
  if (bias && a.bias.stride(0) != 1)
    for (Index o = 0; o < out; ++o) b_copy.push_back(a.bias(o));
  const float* bias_data = b_copy.empty() ? a.bias.data() : b_copy.data();

  const std::optional<Index> y_pitch = row_pitch(a.y);
  std::vector<float> y_copy;
  if (!y_pitch) y_copy.resize(static_cast<std::size_t>(m * out));
  float* y = y_pitch ? a.y.data() : y_copy.data();

  const MatmulShape shape{m, in, out, x_pitch.value_or(in), w_rows ? a.weight.stride(0) : in,
                          y_pitch.value_or(out), bias,
                          ctx.threads > 0 ? ctx.threads : omp_get_max_threads()};
  const CachedMatmul& mm = matmul_for(shape);
  dnnl::engine& engine = cpu_engine();
  // oneDNN takes non-const handles; it only reads the inputs.
  memory x_mem(mm.pd.src_desc(), engine, const_cast<float*>(x));
  memory w_mem(mm.pd.weights_desc(), engine, const_cast<float*>(w));
  memory y_mem(mm.pd.dst_desc(), engine, y);
  memory scratch(mm.pd.scratchpad_desc(), engine);
  std::unordered_map<int, memory> io = {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem},
                                        {DNNL_ARG_DST, y_mem}, {DNNL_ARG_SCRATCHPAD, scratch}};
  if (bias) io.emplace(DNNL_ARG_BIAS, memory(mm.pd.bias_desc(), engine, const_cast<float*>(bias_data)));
  {
    const ScopedOmpThreads team(shape.threads);
    dnnl::stream stream(engine);
    mm.primitive.execute(stream, io);
    stream.wait();
  }

  if (!y_pitch) {
    std::size_t n = 0;
    for (Index b = 0; b < batch; ++b)
      for (Index r = 0; r < rows; ++r)
        for (Index o = 0; o < out; ++o) a.y(b, r, o) = y_copy[n++];
  }
}

}  // namespace mha
