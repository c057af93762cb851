// Weight: how a layer holds a weight tensor — a view, plus shared ownership of what it views when
// the layer was built from tensors of its own.
//
//   Weight(tensor)               the layer owns it (copies of the layer share it, never copy it)
//   Weight::borrowed(view)       a view into a model's TensorStore: the model owns the floats and
//                                must outlive the layer; the optimizer's updates are seen at once
// Either way a layer reads view(); no weight is copied when a layer is built or called.
#pragma once

#include <memory>

#include "mha/core/tensor.hpp"

namespace mha {

class Weight {
 public:
  Weight() = default;
  Weight(Tensor<> owned)  // NOLINT(google-explicit-constructor): a tensor is a weight
      : owner_(owned.defined() ? std::make_shared<const Tensor<>>(std::move(owned)) : nullptr),
        view_(owner_ ? owner_->view() : TensorView<const float>{}) {}
  // Throws mha::Error for a strided view: layers read weights as dense rows.
  static Weight borrowed(TensorView<const float> view) {
    if (view.defined() && !view.is_contiguous())
      throw_invalid("weight", "a contiguous view", "strides " + shape_str(view.strides()));
    Weight w;
    w.view_ = std::move(view);
    return w;
  }

  const TensorView<const float>& view() const { return view_; }
  bool defined() const { return view_.defined(); }
  const Shape& shape() const { return view_.shape(); }
  Index rank() const { return view_.rank(); }
  Index dim(Index d) const { return view_.dim(d); }
  Index numel() const { return defined() ? view_.numel() : 0; }
  const float* data() const { return view_.data(); }
  template <class... I>
  const float& operator()(I... index) const {
    return view_(index...);
  }

 private:
  std::shared_ptr<const Tensor<>> owner_;
  TensorView<const float> view_;
};

}  // namespace mha
