// A model's tensors in one buffer.
//
// A TensorLayout names every tensor once — its name (the checkpoint's name), its shape and its
// offset, in the order the model declares them. A TensorStore holds the floats of one layout.
// A model's parameters, their gradients and an optimizer's moments are stores of the same layout:
// tensor i of each lines up with tensor i of the others, so layers read views of the parameter
// store and backward passes write views of the gradient store, and nothing is copied per call.
//
// Offsets are rounded up to 16 floats (64 bytes), so every tensor starts on a cache line, as a
// Tensor's own allocation does; the gaps are zeros and belong to no tensor.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha {

class TensorLayout {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    Index offset = 0;  // in floats, from the start of the store
    Index numel = 0;
  };

  // Appends a tensor and returns its index. Throws mha::Error for a repeated or empty name.
  Index add(std::string name, Shape shape);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry& entry(Index i) const;
  Index size() const { return static_cast<Index>(entries_.size()); }
  Index total_floats() const { return total_; }  // the store's length, gaps included
  Index parameter_count() const;                  // Σ numel over the entries
  std::optional<Index> find(std::string_view name) const;
  // The indices ordered by name: for sums whose result must not depend on the declaration order
  // (the optimizer's gradient norm) and for files that list tensors by name.
  std::vector<Index> by_name() const;

  bool operator==(const TensorLayout& other) const;

 private:
  std::vector<Entry> entries_;
  std::map<std::string, Index, std::less<>> index_;
  Index total_ = 0;
};

class TensorStore {
 public:
  TensorStore() = default;
  // Zero-filled.
  explicit TensorStore(std::shared_ptr<const TensorLayout> layout);

  bool defined() const { return layout_ != nullptr; }
  const TensorLayout& layout() const { return *layout_; }
  const std::shared_ptr<const TensorLayout>& shared_layout() const { return layout_; }
  Index size() const { return defined() ? layout_->size() : 0; }

  TensorView<float> operator[](Index i);
  TensorView<const float> operator[](Index i) const;
  // Throws mha::Error naming the tensor when the layout has none of that name.
  TensorView<float> at(std::string_view name);
  TensorView<const float> at(std::string_view name) const;

  // Every float, gaps (zeros) included.
  std::span<float> values() { return buffer_.values(); }
  std::span<const float> values() const { return buffer_.values(); }

 private:
  std::shared_ptr<const TensorLayout> layout_;
  Tensor<> buffer_;
};

// Throws mha::Error naming `what` unless `store` has `layout`'s names and shapes.
void check_layout(const TensorStore& store, const TensorLayout& layout, const std::string& what);

}  // namespace mha
