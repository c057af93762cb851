// TensorLayout and TensorStore (mha/core/tensor_store.hpp).
#include "mha/core/tensor_store.hpp"

#include <algorithm>
#include <numeric>

namespace mha {
namespace {

constexpr Index kAlignFloats = 16;  // 64 bytes

Index aligned(Index offset) { return (offset + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

}  // namespace

Index TensorLayout::add(std::string name, Shape shape) {
  if (name.empty()) throw_invalid("name", "a non-empty tensor name", "''");
  if (index_.contains(name)) throw_invalid(name, "one tensor of that name", "a second one");
  const Index numel = numel_of(shape);
  const Index i = size();
  index_.emplace(name, i);
  entries_.push_back({std::move(name), std::move(shape), aligned(total_), numel});
  total_ = entries_.back().offset + numel;
  return i;
}

const TensorLayout::Entry& TensorLayout::entry(Index i) const {
  if (i < 0 || i >= size())
    throw_invalid("tensor index", "in [0, " + std::to_string(size()) + ")", std::to_string(i));
  return entries_[static_cast<std::size_t>(i)];
}

Index TensorLayout::parameter_count() const {
  Index count = 0;
  for (const Entry& e : entries_) count += e.numel;
  return count;
}

std::optional<Index> TensorLayout::find(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::vector<Index> TensorLayout::by_name() const {
  std::vector<Index> order;
  order.reserve(index_.size());
  for (const auto& [name, i] : index_) order.push_back(i);
  return order;
}

bool TensorLayout::operator==(const TensorLayout& other) const {
  return std::equal(entries_.begin(), entries_.end(), other.entries_.begin(), other.entries_.end(),
                    [](const Entry& a, const Entry& b) { return a.name == b.name && a.shape == b.shape; });
}

TensorStore::TensorStore(std::shared_ptr<const TensorLayout> layout)
    : layout_(std::move(layout)), buffer_(Shape{std::max<Index>(layout_->total_floats(), 1)}) {}

TensorView<float> TensorStore::operator[](Index i) {
  const TensorLayout::Entry& e = layout().entry(i);
  return {buffer_.data() + e.offset, e.shape};
}

TensorView<const float> TensorStore::operator[](Index i) const {
  const TensorLayout::Entry& e = layout().entry(i);
  return {buffer_.data() + e.offset, e.shape};
}

TensorView<float> TensorStore::at(std::string_view name) {
  const std::optional<Index> i = defined() ? layout().find(name) : std::nullopt;
  if (!i) throw_invalid(std::string(name), "a tensor of the model", "no tensor of that name");
  return (*this)[*i];
}

TensorView<const float> TensorStore::at(std::string_view name) const {
  return const_cast<TensorStore&>(*this).at(name);  // same lookup, const result
}

void check_layout(const TensorStore& store, const TensorLayout& layout, const std::string& what) {
  if (!store.defined()) throw_invalid(what, "the model's " + std::to_string(layout.size()) + " tensors", "none");
  const TensorLayout& given = store.layout();
  for (const TensorLayout::Entry& e : layout.entries()) {
    const std::optional<Index> i = given.find(e.name);
    if (!i) throw_invalid(e.name, "a tensor of shape " + shape_str(e.shape), "missing");
    if (given.entry(*i).shape != e.shape)
      throw_invalid(e.name, "shape " + shape_str(e.shape), shape_str(given.entry(*i).shape));
  }
  for (const TensorLayout::Entry& e : given.entries())
    if (!layout.find(e.name)) throw_invalid(e.name, "no such tensor in this model", "an extra tensor");
  if (!(given == layout))
    throw_invalid(what, "the model's tensor order", "the same tensors in another order");
}

}  // namespace mha
