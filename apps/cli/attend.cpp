// mha attend — one nn.MultiheadAttention layer from files: a state_dict and inputs in, outputs out.
//
//   weights file: a PyTorch state_dict (see include/mha/layers/mha_state_dict.hpp)
//   inputs file:  query (required), key and value (default: query), key_padding_mask and
//                 attn_mask (optional; BOOL = True blocked, F32 = added to the scores)
//   output file:  output, and with --need-weights: weights (head-averaged, or per head)
// Shapes follow PyTorch: (L, B, E), (B, L, E) with --batch-first, or (L, E) unbatched.
// With --dist under mpirun the ranks share the sequence and rank 0 writes the same output file
// (dist_attend.hpp).
#include <fmt/core.h>

#include <memory>
#include <optional>
#include <string>

#include "cli_options.hpp"
#include "commands.hpp"
#include "dist_attend.hpp"
#include "mha/layers/mha_state_dict.hpp"
#include "mha/io/safetensors.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {
namespace {

struct AttendArgs {
  std::string weights_path, inputs_path, out_path;
  Index heads = 1;
  bool batch_first = false;
  bool add_zero_attn = false;
  bool causal = false;
  bool need_weights = false;
  bool per_head = false;
  std::string kernel;
  int threads = 0;
  DistFlags dist;
};

Tensor<> read_float_input(const SafetensorsFile& file, const std::string& name) {
  const DType dtype = file.info(name).dtype;
  if (dtype != DType::F32) throw_invalid(name, "dtype F32", std::string(dtype_name(dtype)));
  return file.read_f32(name);
}

// A mask tensor keeps its storage here while MhaOptions holds a view of it.
struct LoadedMask {
  BoolTensor flags;
  Tensor<> values;

  std::optional<Mask> read(const SafetensorsFile& file, const std::string& name) {
    if (!file.contains(name)) return std::nullopt;
    const DType dtype = file.info(name).dtype;
    if (dtype == DType::BOOL) {
      flags = file.read_bool(name);
      return from_torch_mha_mask(
          flags.view());  // True = may not attend, as in nn.MultiheadAttention
    }
    if (dtype == DType::F32) {
      values = file.read_f32(name);
      return additive_mask(values.view());
    }
    throw_invalid(name, "dtype BOOL (True = blocked) or F32 (added to the scores)",
                  std::string(dtype_name(dtype)));
  }
};

// Opens a safetensors file; a failure names the flag that gave the path, then the reader's reason.
SafetensorsFile open_file(const std::string& path, const std::string& flag) {
  try {
    return SafetensorsFile::open(path);
  } catch (const Error& e) {
    throw Error(flag + ": " + e.what());
  }
}

// What a run reads. The options hold views of the masks' storage, so this stays in place.
struct AttendInputs {
  std::optional<MultiHeadAttention> layer;
  Tensor<> query, key, value;
  LoadedMask padding, attn;
  MhaOptions options;
};

void read_inputs(const AttendArgs& args, AttendInputs& in) {
  const SafetensorsFile weights_file = open_file(args.weights_path, "--weights");
  in.layer.emplace(load_mha_state_dict(weights_file, {.num_heads = args.heads,
                                                      .batch_first = args.batch_first,
                                                      .add_zero_attn = args.add_zero_attn}));
  const SafetensorsFile inputs = open_file(args.inputs_path, "--inputs");
  if (!inputs.contains("query")) throw_invalid("query", "a tensor in " + args.inputs_path, "none");
  in.query = read_float_input(inputs, "query");
  in.key = inputs.contains("key") ? read_float_input(inputs, "key") : in.query;
  in.value = inputs.contains("value") ? read_float_input(inputs, "value") : in.key;
  in.options.key_padding_mask = in.padding.read(inputs, "key_padding_mask");
  in.options.attn_mask = in.attn.read(inputs, "attn_mask");
  in.options.is_causal = args.causal;
  in.options.need_weights = args.need_weights;
  in.options.average_attn_weights = !args.per_head;
}

// What a sequence split over ranks cannot do; each check names the flag or tensor that asked.
void check_distributable(const AttendArgs& args) {
  if (args.need_weights)
    throw Error("--need-weights: not with --dist (no rank sees a whole row of the weights)");
  if (args.add_zero_attn)
    throw Error("--add-zero-attn: not with --dist (every rank would append its own zero key)");
}
void check_distributable(const AttendInputs& in) {
  if (in.options.attn_mask)
    throw Error("attn_mask: not with --dist (a query-by-key mask cannot travel with the keys; "
                "key_padding_mask can)");
  if (in.layer->config().add_bias_kv)
    throw Error("bias_k: not with --dist (every rank would append its own bias key)");
}

void run_attend(const AttendArgs& args) {
  const bool distributed = !args.dist.algorithm.empty();
  if (distributed) check_distributable(args);
  const Context ctx{.kernel = resolve_kernel(args.kernel), .threads = args.threads};
  std::optional<DistAttend> dist;
  if (distributed) dist.emplace(args.dist);  // starts MPI

  AttendInputs in;
  const auto read = [&] {
    read_inputs(args, in);
    if (distributed) check_distributable(in);
  };
  if (dist)
    dist->all_or_none(read, "reading --weights and --inputs");
  else
    read();
  const MultiHeadAttention& layer = *in.layer;
  MhaOutput result;
  if (dist)
    result.output = dist->forward(layer, in.query.view(), in.key.view(), in.value.view(),
                                  in.options, ctx);
  else
    result = layer.forward(in.query.view(), in.key.view(), in.value.view(), in.options, ctx);
  if (dist && dist->rank() != 0) return;  // rank 0 holds the whole output and writes it

  SafetensorsWriter writer;
  writer.add("output", result.output.view());
  if (args.need_weights) writer.add("weights", result.weights.view());
  writer.write(args.out_path);  // atomic: a temporary file renamed over the destination
  const std::string over =
      dist ? fmt::format(", {} over {} rank{}, layout {}", dist->algorithm(), dist->ranks(),
                         dist->ranks() == 1 ? "" : "s", dist->layout())
           : std::string();
  fmt::print("wrote output {}{} to {} (embed_dim {}, {} heads, kernel {}{})\n",
             shape_str(result.output.shape()),
             args.need_weights ? " and weights " + shape_str(result.weights.shape()) : "",
             args.out_path, layer.config().embed_dim, layer.config().num_heads,
             kernel_name(ctx.kernel), over);
}

}  // namespace

void register_attend(CLI::App& app) {
  auto args = std::make_shared<AttendArgs>();
  CLI::App* attend = app.add_subcommand(
      "attend", "Run one nn.MultiheadAttention layer (state_dict + inputs in safetensors files)");
  attend
      ->add_option("--weights", args->weights_path,
                   "state_dict of nn.MultiheadAttention (.safetensors)")
      ->required();
  attend
      ->add_option("--inputs", args->inputs_path,
                   "query [key value] [key_padding_mask] [attn_mask] (.safetensors)")
      ->required();
  attend
      ->add_option("--out", args->out_path, "file to write output [and weights] to (.safetensors)")
      ->required();
  attend->add_option("--heads", args->heads, "num_heads (not stored in a state_dict)")
      ->required()
      ->check(CLI::Range(Index{1}, Index{1} << 20));
  attend->add_flag("--batch-first", args->batch_first, "inputs are (B, L, E) instead of (L, B, E)");
  attend->add_flag("--add-zero-attn", args->add_zero_attn, "append a zero key/value position");
  attend->add_flag("--causal", args->causal, "mask future positions (key j > query i)");
  CLI::Option* need_weights =
      attend->add_flag("--need-weights", args->need_weights, "also write the attention weights");
  attend->add_flag("--per-head", args->per_head, "weights per head (B, H, L, S), not averaged")
      ->needs(need_weights);
  add_kernel_option(*attend, args->kernel);
  attend->add_option("--threads", args->threads, "worker threads (per rank with --dist; 0 = all cores)")
      ->check(CLI::Range(0, 1 << 16))
      ->capture_default_str();
  CLI::Option* dist = attend->add_option(
      "--dist", args->dist.algorithm,
      "ring|ulysses: share the sequence among the ranks of an mpirun job (docs/distributed.md)");
  attend
      ->add_option("--layout", args->dist.layout,
                   "with --dist: contiguous or zigzag (each rank holds an early and a late chunk)")
      ->needs(dist)
      ->capture_default_str();
  attend->callback([args] { run_attend(*args); });
}

}  // namespace mha::cli
