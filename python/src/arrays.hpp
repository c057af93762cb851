// numpy ↔ mha without copies: a C-contiguous float32 (or bool/uint8) array is read where it lies
// as a TensorView; a result Tensor is handed to numpy whole, the array owning the library buffer
// through a capsule. Anything else (another dtype, non-contiguous strides) costs one conversion
// copy, made by numpy.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::python {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using FlagArray = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

// The array as float32, C order: the same object when it already is (no copy).
inline FloatArray as_float(const py::handle& object, const char* name) {
  if (object.is_none()) throw py::type_error(std::string(name) + ": expected an array, got None");
  FloatArray array = FloatArray::ensure(object);
  if (!array) throw py::type_error(std::string(name) + ": expected a float array, got " + std::string(py::str(py::type::of(object))));
  return array;
}

template <class T, class Array>
TensorView<const T> view_of(const Array& array) {
  Shape shape(static_cast<std::size_t>(array.ndim()));
  for (std::size_t d = 0; d < shape.size(); ++d) shape[d] = static_cast<Index>(array.shape(static_cast<py::ssize_t>(d)));
  return {array.data(), std::move(shape)};
}

// Moves `tensor` to the heap and gives numpy an array over its buffer that frees it when the last
// reference goes: no copy of the values.
inline py::array to_numpy(Tensor<>&& tensor) {
  auto* owned = new Tensor<>(std::move(tensor));
  py::capsule owner(owned, [](void* p) { delete static_cast<Tensor<>*>(p); });
  std::vector<py::ssize_t> shape, strides;
  py::ssize_t stride = sizeof(float);
  for (Index d = owned->rank() - 1; d >= 0; --d) {
    shape.insert(shape.begin(), static_cast<py::ssize_t>(owned->dim(d)));
    strides.insert(strides.begin(), stride);
    stride *= static_cast<py::ssize_t>(owned->dim(d));
  }
  return py::array_t<float>(shape, strides, owned->data(), owner);
}

// Each tensor handed to numpy (no copy), as a tuple: a model's per-layer results.
inline py::tuple to_numpy_tuple(std::vector<Tensor<>>&& tensors) {
  py::list arrays;
  for (Tensor<>& t : tensors) arrays.append(to_numpy(std::move(t)));
  return py::tuple(arrays);
}

// None for a result that was not asked for (an absent tensor), the array otherwise.
inline py::object to_numpy_or_none(Tensor<>&& tensor) {
  return tensor.defined() ? py::object(to_numpy(std::move(tensor))) : py::object(py::none());
}

}  // namespace mha::python
