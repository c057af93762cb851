// Tensor (owning, contiguous, 64-byte aligned) and TensorView (non-owning: pointer + shape +
// strides in elements). Views may have any strides, including 0 to broadcast a dimension, so a
// (L, B, E) input, its batch-first twin and a broadcast mask are all read without copies.
//
// Element types in use: float (data), double (reference intermediates), std::uint8_t (boolean
// masks: nonzero = true).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include "mha/core/aligned_memory.hpp"
#include "mha/core/error.hpp"
#include "mha/core/shape.hpp"

namespace mha {

template <class T>
class TensorView {
 public:
  TensorView() = default;
  TensorView(T* data, Shape shape, Shape strides)
      : data_(data), shape_(std::move(shape)), strides_(std::move(strides)) {
    if (shape_.size() != strides_.size())
      throw_invalid("strides", "one stride per dimension (" + std::to_string(shape_.size()) + ")",
                    std::to_string(strides_.size()));
    numel_of(shape_);  // validates the extents
  }
  TensorView(T* data, Shape shape) : TensorView(data, shape, contiguous_strides(shape)) {}

  // A view of non-const elements converts to a view of const elements.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  TensorView(const TensorView<U>& other)  // NOLINT(google-explicit-constructor)
      : data_(other.data()), shape_(other.shape()), strides_(other.strides()) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  Index rank() const { return static_cast<Index>(shape_.size()); }
  // Extent of dimension d; negative d counts from the end.
  Index dim(Index d) const { return shape_[axis(d)]; }
  Index stride(Index d) const { return strides_[axis(d)]; }
  Index numel() const { return numel_of(shape_); }
  // True when the view points at something (a default-constructed view is "absent").
  bool defined() const { return data_ != nullptr; }
  bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }

  template <class... I>
  T& operator()(I... index) const {
    static_assert((std::is_integral_v<I> && ...));
    Index offset = 0;
    std::size_t d = 0;
    ((offset += static_cast<Index>(index) * strides_[d++]), ...);
    return data_[offset];
  }

 private:
  std::size_t axis(Index d) const {
    return static_cast<std::size_t>(d < 0 ? d + rank() : d);
  }

  T* data_ = nullptr;
  Shape shape_;
  Shape strides_;
};

template <class T = float>
class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor of the given shape.
  explicit Tensor(Shape shape) : shape_(std::move(shape)) { allocate(); }
  Tensor(Shape shape, std::initializer_list<T> values) : Tensor(std::move(shape)) {
    if (static_cast<Index>(values.size()) != numel())
      throw_invalid("values", std::to_string(numel()) + " elements for shape " + shape_str(shape_),
                    std::to_string(values.size()));
    std::copy(values.begin(), values.end(), data());
  }
  // Contiguous copy of any view; an absent view gives an absent tensor.
  static Tensor copy_of(TensorView<const T> view) {
    if (!view.defined()) return Tensor();
    Tensor out(view.shape());
    if (view.is_contiguous()) {
      std::copy_n(view.data(), out.numel(), out.data());
      return out;
    }
    Index i = 0;
    for_each_index(view.shape(), [&](std::span<const Index> idx) {
      Index offset = 0;
      for (std::size_t d = 0; d < idx.size(); ++d) offset += idx[d] * view.strides()[d];
      out.data()[i++] = view.data()[offset];
    });
    return out;
  }

  // Deep copy; copying an absent tensor gives an absent tensor.
  Tensor(const Tensor& other) : shape_(other.shape_) {
    if (!other.defined()) return;
    allocate();
    std::copy_n(other.data(), numel(), data());
  }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
  }
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  T* data() { return storage_.get(); }
  const T* data() const { return storage_.get(); }
  const Shape& shape() const { return shape_; }
  Index rank() const { return static_cast<Index>(shape_.size()); }
  Index dim(Index d) const { return shape_[static_cast<std::size_t>(d < 0 ? d + rank() : d)]; }
  // Element count; 0 for an absent (default-constructed) tensor.
  Index numel() const { return defined() ? numel_of(shape_) : 0; }
  bool defined() const { return storage_ != nullptr; }
  std::span<T> values() { return {data(), static_cast<std::size_t>(numel())}; }
  std::span<const T> values() const { return {data(), static_cast<std::size_t>(numel())}; }

  TensorView<T> view() { return {data(), shape_}; }
  TensorView<const T> view() const { return {data(), shape_}; }
  // Same elements, another shape with the same element count.
  TensorView<T> view_as(Shape shape) {
    check_same_count(shape);
    return {data(), std::move(shape)};
  }
  TensorView<const T> view_as(Shape shape) const {
    check_same_count(shape);
    return {data(), std::move(shape)};
  }

  // Row-major element access: offset = ((i₀·d₁ + i₁)·d₂ + i₂)… (no view is built, so element
  // loops over a Tensor allocate nothing).
  template <class... I>
  T& operator()(I... index) {
    return data()[offset_of(index...)];
  }
  template <class... I>
  const T& operator()(I... index) const {
    return data()[offset_of(index...)];
  }

  // Visits every multi-index of `shape` in row-major order.
  template <class F>
  static void for_each_index(std::span<const Index> shape, F&& visit) {
    const Index count = numel_of(shape);
    if (count == 0) return;
    Shape idx(shape.size(), 0);
    for (Index n = 0; n < count; ++n) {
      visit(std::span<const Index>(idx));
      for (std::size_t d = idx.size(); d-- > 0;) {  // odometer step, last dimension fastest
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }

 private:
  template <class... I>
  Index offset_of(I... index) const {
    static_assert((std::is_integral_v<I> && ...));
    Index offset = 0;
    std::size_t d = 0;
    ((offset = offset * shape_[d++] + static_cast<Index>(index)), ...);
    return offset;
  }

  struct AlignedFree {
    void operator()(T* p) const { aligned_memory::release(p); }
  };

  // Element types are trivial (float, double, std::uint8_t), so the zero fill starts their life.
  void allocate() {
    static_assert(std::is_trivial_v<T>);
    const auto count = static_cast<std::size_t>(std::max<Index>(numel_of(shape_), 1));
    storage_.reset(static_cast<T*>(aligned_memory::allocate(count * sizeof(T))));
    std::fill_n(storage_.get(), count, T{});
  }
  void check_same_count(const Shape& shape) const {
    if (numel_of(shape) != numel())
      throw_invalid("shape", std::to_string(numel()) + " elements (from " + shape_str(shape_) + ")",
                    shape_str(shape));
  }

  Shape shape_;
  std::unique_ptr<T[], AlignedFree> storage_;
};

using BoolTensor = Tensor<std::uint8_t>;

}  // namespace mha
