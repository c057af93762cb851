// Reference linear projection, float64 accumulation.
//   x: [B, R, In]   weight: [Out, In]   bias: [Out]   y: [B, R, Out]
#include "kernels/reference/linear_reference.hpp"

namespace mha {

void linear_reference(const LinearArgs& a) {
  const Index batch = a.x.dim(0), rows = a.x.dim(1), in = a.x.dim(2), out = a.weight.dim(0);
  for (Index b = 0; b < batch; ++b)
    for (Index r = 0; r < rows; ++r)
      for (Index o = 0; o < out; ++o) {
        // y_bro = Σ_i x_bri · W_oi + b_o
        double acc = a.bias.defined() ? static_cast<double>(a.bias(o)) : 0.0;
        for (Index i = 0; i < in; ++i)
          acc += static_cast<double>(a.x(b, r, i)) * static_cast<double>(a.weight(o, i));
        a.y(b, r, o) = static_cast<float>(acc);
      }
}

}  // namespace mha
