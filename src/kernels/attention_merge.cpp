// merge_attention (formulas in mha/kernels/attention_merge.hpp).
#include "mha/kernels/attention_merge.hpp"

#include <cmath>
#include <limits>

namespace mha {

void merge_attention(TensorView<float> out, TensorView<float> lse, TensorView<const float> other_out,
                     TensorView<const float> other_lse) {
  if (out.rank() != 4) throw_invalid("out", "a rank-4 view [B, H, L, Dv]", shape_str(out.shape()));
  if (other_out.shape() != out.shape())
    throw_invalid("other_out", "shape " + shape_str(out.shape()) + " (like out)", shape_str(other_out.shape()));
  const Shape rows = {out.dim(0), out.dim(1), out.dim(2)};
  if (lse.shape() != rows) throw_invalid("lse", "shape " + shape_str(rows), shape_str(lse.shape()));
  if (other_lse.shape() != rows) throw_invalid("other_lse", "shape " + shape_str(rows), shape_str(other_lse.shape()));
  const double minus_inf = -std::numeric_limits<double>::infinity();
  for (Index b = 0; b < out.dim(0); ++b)
    for (Index h = 0; h < out.dim(1); ++h)
      for (Index i = 0; i < out.dim(2); ++i) {
        const double a = lse(b, h, i), c = other_lse(b, h, i);
        if (c == minus_inf) continue;  // the other block saw no key: nothing to add
        // l = max + log(exp(a − max) + exp(c − max)); the weights exp(a − l), exp(c − l).
        const double top = std::max(a, c);
        const double wa = a == minus_inf ? 0.0 : std::exp(a - top), wc = std::exp(c - top);
        const double total = wa + wc;
        for (Index x = 0; x < out.dim(3); ++x)
          out(b, h, i, x) = static_cast<float>((wa * out(b, h, i, x) + wc * other_out(b, h, i, x)) / total);
        lse(b, h, i) = static_cast<float>(top + std::log(total));
      }
}

}  // namespace mha
