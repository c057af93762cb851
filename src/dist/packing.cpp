// 4-d views to and from the contiguous message buffers, in row-major order.
#include "dist/plan.hpp"

namespace mha::dist {

float* pack(TensorView<const float> view, float* to) {
  for (Index b = 0; b < view.dim(0); ++b)
    for (Index h = 0; h < view.dim(1); ++h)
      for (Index i = 0; i < view.dim(2); ++i)
        for (Index x = 0; x < view.dim(3); ++x) *to++ = view(b, h, i, x);
  return to;
}

const float* unpack(const float* from, TensorView<float> view) {
  for (Index b = 0; b < view.dim(0); ++b)
    for (Index h = 0; h < view.dim(1); ++h)
      for (Index i = 0; i < view.dim(2); ++i)
        for (Index x = 0; x < view.dim(3); ++x) view(b, h, i, x) = *from++;
  return from;
}

}  // namespace mha::dist
