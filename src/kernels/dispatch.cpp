// The single dispatch point: validate the kernel contract once, then switch on the backend.
#include "mha/kernels/attention.hpp"

#include <cmath>
#include <string>

#include "kernels/cpu/attention_backward_cpu.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "kernels/cpu/attention_path.hpp"
#include "kernels/cpu/linear_backward_cpu.hpp"
#include "kernels/cpu/linear_onednn.hpp"
#include "kernels/reference/attention_backward_reference.hpp"
#include "kernels/reference/attention_reference.hpp"
#include "kernels/reference/linear_reference.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/kernels/linear_backward.hpp"
#include "mha/kernels/sequence_parallel.hpp"

namespace mha {
namespace {

void expect_shape(const Shape& actual, const Shape& expected, const std::string& name) {
  if (actual != expected) throw_invalid(name, "shape " + shape_str(expected), shape_str(actual));
}

void expect_rank(Index rank, Index expected, const std::string& name, const Shape& shape) {
  if (rank != expected)
    throw_invalid(name, "a rank-" + std::to_string(expected) + " view", shape_str(shape));
}

void validate_linear(const LinearArgs& a) {
  expect_rank(a.x.rank(), 3, "x", a.x.shape());
  expect_rank(a.weight.rank(), 2, "weight", a.weight.shape());
  const Index out = a.weight.dim(0), in = a.weight.dim(1);
  if (a.x.dim(2) != in)
    throw_invalid("x", "last dimension " + std::to_string(in) + " (weight is " +
                           shape_str(a.weight.shape()) + ")",
                  shape_str(a.x.shape()));
  if (a.bias.defined()) expect_shape(a.bias.shape(), {out}, "bias");
  expect_shape(a.y.shape(), {a.x.dim(0), a.x.dim(1), out}, "y");
}

void validate(const AttentionArgs& a) {
  expect_rank(a.q.rank(), 4, "q", a.q.shape());
  expect_rank(a.k.rank(), 4, "k", a.k.shape());
  expect_rank(a.v.rank(), 4, "v", a.v.shape());
  const Index batch = a.q.dim(0), heads = a.q.dim(1), lq = a.q.dim(2), d = a.q.dim(3);
  const Index kv_heads = a.k.dim(1), lk = a.k.dim(2), dv = a.v.dim(3);
  if (kv_heads < 1 || heads % kv_heads != 0)
    throw_invalid("k", "a number of kv heads dividing the " + std::to_string(heads) + " query heads",
                  std::to_string(kv_heads));
  expect_shape(a.k.shape(), {batch, kv_heads, lk, d}, "k");
  expect_shape(a.v.shape(), {batch, kv_heads, lk, dv}, "v");
  expect_shape(a.out.shape(), {batch, heads, lq, dv}, "out");
  if (a.weights.defined()) expect_shape(a.weights.shape(), {batch, heads, lq, lk}, "weights");
  if (a.lse.defined()) expect_shape(a.lse.shape(), {batch, heads, lq}, "lse");
  if (!std::isfinite(a.params.scale))
    throw_invalid("scale", "a finite number", std::to_string(a.params.scale));
  if (a.params.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(a.params.window_left));
  const Shape mask_shape = {batch, heads, lq, lk};
  for (const Mask& mask : a.params.masks) {
    const bool additive = mask.kind == MaskKind::additive;
    if (additive ? !mask.values.defined() : !mask.flags.defined())
      throw_invalid("mask", additive ? "float values" : "boolean flags", "no data");
    expect_shape(mask.shape(), mask_shape, "mask");
  }
}

// The backward reads the forward's views, so the forward contract checks them; grad_out stands
// where out stood, and each gradient must have the shape of what it differentiates.
void validate_backward(const AttentionBackwardArgs& a) {
  expect_rank(a.q.rank(), 4, "q", a.q.shape());
  expect_rank(a.v.rank(), 4, "v", a.v.shape());
  const Shape out_shape = {a.q.dim(0), a.q.dim(1), a.q.dim(2), a.v.dim(3)};
  expect_shape(a.grad_out.shape(), out_shape, "grad_out");
  if (a.out.defined()) expect_shape(a.out.shape(), out_shape, "out");
  validate({.q = a.q, .k = a.k, .v = a.v, .out = TensorView<float>(nullptr, out_shape),
            .weights = {}, .lse = {}, .params = a.params});
  if (!a.lse.defined()) throw_invalid("lse", "the forward's [B, Hq, Lq] log-sum-exp", "none");
  expect_shape(a.lse.shape(), {a.q.dim(0), a.q.dim(1), a.q.dim(2)}, "lse");
  expect_shape(a.grad_q.shape(), a.q.shape(), "grad_q");
  expect_shape(a.grad_k.shape(), a.k.shape(), "grad_k");
  expect_shape(a.grad_v.shape(), a.v.shape(), "grad_v");
  if (!a.grad_out.defined() || !a.grad_q.defined() || !a.grad_k.defined() || !a.grad_v.defined())
    throw_invalid("grad_out, grad_q, grad_k, grad_v", "views with data", "a null view");
  if (!(a.dropout.rate >= 0.0 && a.dropout.rate < 1.0))
    throw_invalid("dropout rate", "a probability in [0, 1)", std::to_string(a.dropout.rate));
}

void validate_linear_backward(const LinearBackwardArgs& a) {
  expect_rank(a.grad_y.rank(), 3, "grad_y", a.grad_y.shape());
  validate_linear({.x = a.x, .weight = a.weight, .bias = {},
                   .y = TensorView<float>(nullptr, a.grad_y.shape())});
  if (a.grad_x.defined()) expect_shape(a.grad_x.shape(), a.x.shape(), "grad_x");
  if (a.grad_weight.defined()) expect_shape(a.grad_weight.shape(), a.weight.shape(), "grad_weight");
  if (a.grad_bias.defined()) expect_shape(a.grad_bias.shape(), {a.weight.dim(0)}, "grad_bias");
}

}  // namespace

std::string_view kernel_name(KernelKind kind) {
  switch (kind) {
    case KernelKind::reference: return "reference";
    case KernelKind::cpu: return "cpu";
  }
  return "unknown";
}

KernelKind parse_kernel(std::string_view text, std::string_view argument) {
  if (text == "ref" || text == "reference") return KernelKind::reference;
  if (text == "cpu") return KernelKind::cpu;
  throw_invalid(std::string(argument), "one of ref, cpu", "'" + std::string(text) + "'");
}

[[noreturn]] void throw_unavailable(KernelKind kind) {
  throw_invalid("kernel", "a kernel compiled into this build (reference, cpu)",
                "'" + std::string(kernel_name(kind)) + "'");
}

void attention(const AttentionArgs& args, const Context& ctx) {
  validate(args);
  if (ctx.sequence_parallel != nullptr) {
    Context local = ctx;
    local.sequence_parallel = nullptr;
    return ctx.sequence_parallel->attention(args, local);
  }
  switch (ctx.kernel) {
    case KernelKind::reference: return attention_reference(args);
    case KernelKind::cpu: return attention_cpu(args, ctx);
  }
  throw_unavailable(ctx.kernel);
}

AttentionDispatch explain_attention_dispatch(const AttentionArgs& args, const Context& ctx) {
  validate(args);
  if (ctx.sequence_parallel != nullptr)
    return {"sequence-parallel", "sequence-parallel",
            "the context's hook spreads the keys over processes and runs each part locally"};
  switch (ctx.kernel) {
    case KernelKind::reference:
      return {"reference", "reference", "the context asks for the float64 reference kernel"};
    case KernelKind::cpu: {
      cpu::PathChoice choice = cpu::choose_attention_path(args, ctx, /*explain=*/true);
      return {"cpu", choice.path == AttentionPath::unfused ? "unfused" : "fused",
              std::move(choice.reason)};
    }
  }
  throw_unavailable(ctx.kernel);
}

void linear(const LinearArgs& args, const Context& ctx) {
  validate_linear(args);
  switch (ctx.kernel) {
    case KernelKind::reference: return linear_reference(args);
    case KernelKind::cpu: return linear_onednn(args, ctx);
  }
  throw_unavailable(ctx.kernel);
}

void attention_backward(const AttentionBackwardArgs& args, const Context& ctx) {
  validate_backward(args);
  if (ctx.sequence_parallel != nullptr)
    throw_invalid("context", "no sequence_parallel hook (the attention backward runs on one process)",
                  "a sequence-parallel context");
  switch (ctx.kernel) {
    case KernelKind::reference: return attention_backward_reference(args);
    case KernelKind::cpu: return attention_backward_cpu(args, ctx);
  }
  throw_unavailable(ctx.kernel);
}

void linear_backward(const LinearBackwardArgs& args, const Context& ctx) {
  validate_linear_backward(args);
  switch (ctx.kernel) {
    case KernelKind::reference: return linear_backward_reference(args);
    case KernelKind::cpu: return linear_backward_cpu(args, ctx);
  }
  throw_unavailable(ctx.kernel);
}

}  // namespace mha
