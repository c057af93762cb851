// Shape checks shared by the layers: each throws mha::Error naming the tensor, the expected and
// the actual shape.
#pragma once

#include <string>

#include "mha/core/error.hpp"
#include "mha/core/tensor.hpp"

namespace mha {

// T: a Tensor or a Weight (anything with defined() and shape()).
template <class T>
void expect_present(const T& t, const Shape& expected, const std::string& name) {
  if (!t.defined()) throw_invalid(name, "a tensor of shape " + shape_str(expected), "none");
  if (t.shape() != expected) throw_invalid(name, "shape " + shape_str(expected), shape_str(t.shape()));
}

template <class T>
void expect_absent(const T& t, const std::string& name, const std::string& because) {
  if (t.defined())
    throw_invalid(name, "no tensor (" + because + ")", "a tensor of shape " + shape_str(t.shape()));
}

}  // namespace mha
