// y = x·Wᵀ + b through oneDNN's matmul (onednn_matmul.hpp).
//
//   x: [B, R, In] → rows [M = B·R, K = In]   weight: [Out, In] read as Wᵀ [K, N = Out] through
//   strides (no copy)   bias: [1, N], fused   y: [B, R, Out] → rows [M, N]
//
// Rows are passed with their leading dimension when a view collapses to [M, ·] with unit stride
// along the features (every layout the layer uses); any other view is packed into a contiguous
// copy first.
#include "kernels/cpu/linear_onednn.hpp"

#include <optional>
#include <vector>

#include "kernels/cpu/onednn_matmul.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace {

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

  const Index ldx = x_pitch.value_or(in), ldw = w_rows ? a.weight.stride(0) : in,
              ldy = y_pitch.value_or(out);
  // Wᵀ[i][o] = W[o][i]: stride 1 along In, ldw along Out.
  const cpu::MatmulLayout layout{.src_dims = {m, in}, .src_strides = {ldx, 1},
                                 .weights_dims = {in, out}, .weights_strides = {1, ldw},
                                 .dst_dims = {m, out}, .dst_strides = {ldy, 1}, .bias = bias,
                                 .scale = 1.0f, .threads = cpu_threads(ctx)};
  Workspace own;
  cpu::run_matmul(layout, x, w, bias_data, y, *with_workspace(ctx, own).workspace);

  if (!y_pitch) {
    std::size_t n = 0;
    for (Index b = 0; b < batch; ++b)
      for (Index r = 0; r < rows; ++r)
        for (Index o = 0; o < out; ++o) a.y(b, r, o) = y_copy[n++];
  }
}

}  // namespace mha
