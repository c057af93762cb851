// BertModel::load — Hugging Face BERT tensor names → mha layers.
//
// Names (formats.md §2.2), each optionally prefixed "bert.":
//   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.*
//   encoder.layer.N.attention.self.{query,key,value}.{weight,bias}
//   encoder.layer.N.attention.output.dense.{weight,bias}
//   encoder.layer.N.attention.output.LayerNorm.*
//   encoder.layer.N.intermediate.dense.{weight,bias}
//   encoder.layer.N.output.dense.{weight,bias}, encoder.layer.N.output.LayerNorm.*
// where LayerNorm.* is weight/bias or the legacy gamma/beta.
#include <algorithm>
#include <charconv>
#include <set>
#include <string>
#include <utility>

#include "mha/models/bert.hpp"
#include "models/checkpoint_tensors.hpp"

namespace mha {
namespace {

class BertTensorReader {
 public:
  BertTensorReader(const CheckpointTensors& tensors, std::string prefix)
      : tensors_(tensors), prefix_(std::move(prefix)) {}

  // The tensor `name` (without prefix), checked against the shape config.json implies.
  Tensor<> param(const std::string& name, const Shape& shape) const {
    const std::string full = prefix_ + name;
    if (!tensors_.contains(full))
      throw_invalid("checkpoint '" + tensors_.folder().string() + "'",
                    "a tensor named '" + full + "'", "none");
    return read(full, shape);
  }

  LayerNorm layer_norm(const std::string& base, const BertConfig& c) const {
    const Shape shape = {c.hidden_size};
    return {read(either(base, "weight", "gamma"), shape), read(either(base, "bias", "beta"), shape),
            c.layer_norm_eps};
  }

 private:
  Tensor<> read(const std::string& full, const Shape& shape) const {
    const TensorInfo& info = tensors_.info(full);
    const std::string where = "tensor '" + full + "' in " + tensors_.file_of(full);
    if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16 &&
        info.dtype != DType::F64)
      throw_invalid(where, "dtype F32, F16, BF16 or F64", std::string(dtype_name(info.dtype)));
    if (info.shape != shape)
      throw_invalid(where, "shape " + shape_str(shape) + " (from config.json)",
                    shape_str(info.shape));
    return tensors_.read_f32(full);
  }

  // base.current or base.legacy (gamma/beta), never both: the two could disagree.
  std::string either(const std::string& base, const std::string& current,
                     const std::string& legacy) const {
    const std::string a = prefix_ + base + "." + current, b = prefix_ + base + "." + legacy;
    const bool has_a = tensors_.contains(a), has_b = tensors_.contains(b);
    if (has_a && has_b)
      throw_invalid("tensor '" + a + "'", "either it or the legacy '" + b + "', not both", "both");
    if (!has_a && !has_b)
      throw_invalid("checkpoint '" + tensors_.folder().string() + "'",
                    "a tensor named '" + a + "' (or the legacy '" + b + "')", "none");
    return has_a ? a : b;
  }

  const CheckpointTensors& tensors_;
  std::string prefix_;
};

// "bert." when the checkpoint comes from a model with heads (BertForPreTraining, the hub's
// bert-base-uncased), "" when saved from a bare BertModel.
std::string detect_prefix(const CheckpointTensors& tensors) {
  const std::string probe = "embeddings.word_embeddings.weight";
  const bool prefixed = tensors.contains("bert." + probe), bare = tensors.contains(probe);
  if (prefixed && bare)
    throw_invalid("tensor '" + probe + "'", "either it or 'bert." + probe + "', not both", "both");
  if (!prefixed && !bare)
    throw_invalid("checkpoint '" + tensors.folder().string() + "'",
                  "a tensor named 'bert." + probe + "' or '" + probe + "'", "neither");
  return prefixed ? "bert." : "";
}

// config.json's num_hidden_layers must equal the number of encoder.layer.N blocks the checkpoint
// holds (indices 0..L-1, none missing), checked before anything is sized by it: a config that
// claims 10^8 layers next to a 3-layer file is an error naming the field, not an allocation.
// The count is bounded by the number of tensor names, so it cannot ask for unbounded memory.
void check_layer_count(const CheckpointTensors& tensors, const std::string& prefix,
                       const BertConfig& c) {
  const std::string stem = prefix + "encoder.layer.";
  std::set<Index> indices;
  for (const std::string& name : tensors.names()) {
    if (name.rfind(stem, 0) != 0) continue;
    const char* first = name.data() + stem.size();
    const char* last = name.data() + name.size();
    Index n = 0;
    const auto [end, error] = std::from_chars(first, last, n);
    if (error == std::errc() && end != first && end != last && *end == '.') indices.insert(n);
  }
  const Index found = static_cast<Index>(indices.size());
  const bool contiguous = found == 0 || (*indices.begin() == 0 && *indices.rbegin() == found - 1);
  if (!contiguous)
    throw_invalid("checkpoint '" + tensors.folder().string() + "'",
                  "layers " + stem + "0 to " + stem + std::to_string(found - 1) + " without gaps",
                  std::to_string(found) + " layer indices up to " +
                      std::to_string(*indices.rbegin()));
  if (found != c.num_hidden_layers)
    throw_invalid("config.json num_hidden_layers",
                  std::to_string(found) + " (the checkpoint '" + tensors.folder().string() +
                      "' holds " + std::to_string(found) + " layers named " + stem + "N)",
                  std::to_string(c.num_hidden_layers));
}

BertEmbeddings read_embeddings(const BertTensorReader& r, const BertConfig& c) {
  const Index e = c.hidden_size;
  // Braced initialisers evaluate left to right: errors come in checkpoint order.
  return {
      Embedding(r.param("embeddings.word_embeddings.weight", {c.vocab_size, e})),
      Embedding(r.param("embeddings.position_embeddings.weight", {c.max_position_embeddings, e})),
      Embedding(r.param("embeddings.token_type_embeddings.weight", {c.type_vocab_size, e})),
      r.layer_norm("embeddings.LayerNorm", c)};
}

// query, key and value stacked into nn.MultiheadAttention's packed in_proj (rows Q, K, V), and
// attention.output.dense as its out_proj.
MultiHeadAttention read_attention(const BertTensorReader& r, const std::string& at,
                                  const BertConfig& c) {
  const Index e = c.hidden_size;
  const MhaConfig config = resolved({.embed_dim = e, .num_heads = c.num_attention_heads, .batch_first = true});
  Tensor<> in_proj_weight({3 * e, e}), in_proj_bias({3 * e});
  MhaTensors<TensorView<float>> packed;
  packed.in_proj_weight = in_proj_weight.view();
  packed.in_proj_bias = in_proj_bias.view();
  for (const auto& [which, name] : {std::pair{Projection::query, "query"}, std::pair{Projection::key, "key"},
                                    std::pair{Projection::value, "value"}}) {
    const Tensor<> weight = r.param(at + "self." + name + ".weight", {e, e});
    const Tensor<> bias = r.param(at + "self." + name + ".bias", {e});
    const ProjectionRows<float> rows = projection_rows(packed, config, which);
    std::copy_n(weight.data(), e * e, rows.weight.data());
    std::copy_n(bias.data(), e, rows.bias.data());
  }
  MhaWeights w;
  w.in_proj_weight = std::move(in_proj_weight);
  w.in_proj_bias = std::move(in_proj_bias);
  w.out_proj_weight = r.param(at + "output.dense.weight", {e, e});
  w.out_proj_bias = r.param(at + "output.dense.bias", {e});
  return {config, std::move(w)};
}

BertLayer read_layer(const BertTensorReader& r, Index n, const BertConfig& c) {
  const std::string at = "encoder.layer." + std::to_string(n) + ".";
  const Index e = c.hidden_size, f = c.intermediate_size;
  // Read in checkpoint order, one statement each, so the first bad tensor is the one reported
  // (function arguments are evaluated in no fixed order).
  MultiHeadAttention attention = read_attention(r, at + "attention.", c);
  LayerNorm attention_norm = r.layer_norm(at + "attention.output.LayerNorm", c);
  Linear intermediate{r.param(at + "intermediate.dense.weight", {f, e}),
                      r.param(at + "intermediate.dense.bias", {f})};
  Linear output{r.param(at + "output.dense.weight", {e, f}),
                r.param(at + "output.dense.bias", {e})};
  LayerNorm output_norm = r.layer_norm(at + "output.LayerNorm", c);
  return {std::move(attention), std::move(attention_norm),
          FeedForward(std::move(intermediate), c.hidden_act, std::move(output)),
          std::move(output_norm)};
}

}  // namespace

BertModel BertModel::load(const std::filesystem::path& folder) {
  BertConfig config = load_bert_config(folder / "config.json");
  const CheckpointTensors tensors = CheckpointTensors::open(folder);
  const std::string prefix = detect_prefix(tensors);
  check_layer_count(tensors, prefix, config);
  const BertTensorReader reader(tensors, prefix);
  BertEmbeddings embeddings = read_embeddings(reader, config);
  std::vector<BertLayer> layers;
  layers.reserve(static_cast<std::size_t>(config.num_hidden_layers));
  for (Index n = 0; n < config.num_hidden_layers; ++n)
    layers.push_back(read_layer(reader, n, config));
  return {config, std::move(embeddings), std::move(layers)};
}

}  // namespace mha
