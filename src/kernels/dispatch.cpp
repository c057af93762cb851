// The single dispatch point: validate the kernel contract once, then switch on the backend.
#include "mha/kernels/attention.hpp"

#include <cmath>
#include <string>

#include "kernels/reference/attention_reference.hpp"
#include "kernels/reference/linear_reference.hpp"
#include "mha/kernels/linear.hpp"

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

bool kernel_available(KernelKind kind) { return kind == KernelKind::reference; }

[[noreturn]] void throw_unavailable(KernelKind kind) {
  throw_invalid("kernel", "a kernel compiled into this build (reference)",
                "'" + std::string(kernel_name(kind)) + "'");
}

void attention(const AttentionArgs& args, const Context& ctx) {
  validate(args);
  switch (ctx.kernel) {
    case KernelKind::reference: return attention_reference(args);
    case KernelKind::cpu: break;
  }
  throw_unavailable(ctx.kernel);
}

void linear(const LinearArgs& args, const Context& ctx) {
  validate_linear(args);
  switch (ctx.kernel) {
    case KernelKind::reference: return linear_reference(args);
    case KernelKind::cpu: break;
  }
  throw_unavailable(ctx.kernel);
}

}  // namespace mha
