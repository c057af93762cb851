// nn.MultiheadAttention state_dict ↔ MultiHeadAttention (see include/mha/layers/mha_state_dict.hpp).
//
// The loader only decides what the tensors imply (E, kdim, vdim, bias, add_bias_kv) and reads
// them; MultiHeadAttention's constructor then checks every shape against that config, so a shape
// error names the tensor and the shape it should have.
#include "mha/layers/mha_state_dict.hpp"

#include <string>
#include <utility>

namespace mha {
namespace {

class StateDictReader {
 public:
  StateDictReader(const SafetensorsFile& file, std::string prefix)
      : file_(file), prefix_(std::move(prefix)) {}

  bool has(std::string_view name) const { return file_.contains(full(name)); }

  // An absent name is an error that says why the tensor is needed.
  void expect_present(std::string_view name, std::string_view why) const {
    if (!has(name))
      throw_invalid(full(name), "a tensor (" + std::string(why) + ")", "none in the file");
  }
  Tensor<> require(std::string_view name, std::string_view why) const {
    expect_present(name, why);
    return read(name);
  }
  Tensor<> optional(std::string_view name) const { return has(name) ? read(name) : Tensor<>{}; }

  // Extent `d` of a tensor that must have rank `rank` (read before the data, to derive the config).
  Index extent(std::string_view name, Index rank, Index d) const {
    const Shape& shape = file_.info(full(name)).shape;
    if (static_cast<Index>(shape.size()) != rank)
      throw_invalid(full(name), "a rank-" + std::to_string(rank) + " tensor", shape_str(shape));
    return shape[static_cast<std::size_t>(d)];
  }

  std::string full(std::string_view name) const { return prefix_ + std::string(name); }

 private:
  Tensor<> read(std::string_view name) const {
    const DType dtype = file_.info(full(name)).dtype;
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16 && dtype != DType::F64)
      throw_invalid(full(name), "dtype F32 (or F16, BF16, F64)", std::string(dtype_name(dtype)));
    return file_.read_f32(full(name));
  }

  const SafetensorsFile& file_;
  std::string prefix_;
};

}  // namespace

MultiHeadAttention load_mha_state_dict(const SafetensorsFile& file,
                                       const MhaStateDictOptions& options) {
  const StateDictReader sd(file, options.prefix);
  MhaConfig config{.num_heads = options.num_heads,
                   .add_zero_attn = options.add_zero_attn,
                   .batch_first = options.batch_first};
  MhaWeights w;

  const bool packed = sd.has("in_proj_weight");
  const bool separate =
      sd.has("q_proj_weight") || sd.has("k_proj_weight") || sd.has("v_proj_weight");
  if (packed && separate)
    throw_invalid(sd.full("in_proj_weight"),
                  "either in_proj_weight or q_proj_weight/k_proj_weight/v_proj_weight", "both");
  if (packed) {
    // [3E, E]: E from the columns; the constructor checks the 3E rows.
    config.embed_dim = sd.extent("in_proj_weight", 2, 1);
    w.in_proj_weight = sd.require("in_proj_weight", "the packed Q, K, V projections");
  } else if (separate) {
    const char* why = "another of q/k/v_proj_weight is present";
    // All three must be there before their extents are read.
    for (const char* name : {"q_proj_weight", "k_proj_weight", "v_proj_weight"})
      sd.expect_present(name, why);
    config.embed_dim = sd.extent("q_proj_weight", 2, 0);
    config.kdim = sd.extent("k_proj_weight", 2, 1);
    config.vdim = sd.extent("v_proj_weight", 2, 1);
    w.q_proj_weight = sd.require("q_proj_weight", why);
    w.k_proj_weight = sd.require("k_proj_weight", why);
    w.v_proj_weight = sd.require("v_proj_weight", why);
  } else {
    throw_invalid(sd.full("in_proj_weight"),
                  "a tensor (or q_proj_weight, k_proj_weight and v_proj_weight)",
                  "none in the file");
  }
  if (options.num_heads < 1 || config.embed_dim % options.num_heads != 0)
    throw_invalid("num_heads", "a divisor of embed_dim " + std::to_string(config.embed_dim),
                  std::to_string(options.num_heads));

  w.out_proj_weight = sd.require("out_proj.weight", "the output projection");
  config.bias = sd.has("in_proj_bias") || sd.has("out_proj.bias");
  if (config.bias) {
    w.in_proj_bias = sd.require("in_proj_bias", "out_proj.bias is present");
    w.out_proj_bias = sd.require("out_proj.bias", "in_proj_bias is present");
  }
  config.add_bias_kv = sd.has("bias_k") || sd.has("bias_v");
  if (config.add_bias_kv) {
    w.bias_k = sd.require("bias_k", "bias_v is present");
    w.bias_v = sd.require("bias_v", "bias_k is present");
  }
  return {config, std::move(w)};
}

void add_mha_state_dict(SafetensorsWriter& writer, const MhaWeights& weights,
                        std::string_view prefix) {
  for_each_mha_tensor(
      [&](const char* name, const Weight& tensor) {
        if (tensor.defined()) writer.add(std::string(prefix) + name, tensor.view());
      },
      weights);
}

}  // namespace mha
