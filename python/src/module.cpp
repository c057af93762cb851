// The extension module mha._core: the library's layers and models over numpy arrays. The Python
// package (python/mha/__init__.py) adds PyTorch's signatures, defaults and tensor types on top.
// Every compute call releases the GIL; library errors become ValueError (OSError for files).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "mha/core/workspace.hpp"
#include "mha/io/safetensors.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/layers/scaled_dot_product_attention.hpp"
#include "mha/lang/vocabulary.hpp"
#include "mha/models/bert.hpp"
#include "mha/models/transformer.hpp"
#include "mha/train/checkpoint.hpp"
#include "mha/viz/head_view_html.hpp"

namespace mha::python {
namespace {

std::atomic<int> g_threads{0};  // 0 = every core (mha::cpu_threads)

// Each Python thread lends its calls one workspace, as a serving loop would: buffers grow to the
// largest call and stay, so repeated calls allocate (and page-fault) nothing. A workspace serves
// one call at a time, which one thread guarantees.
Context context(const std::string& kernel) {
  thread_local Workspace workspace;
  return {.kernel = parse_kernel(kernel), .threads = g_threads.load(), .workspace = &workspace};
}

// A mask argument: bool/uint8 arrays are flags (the polarity is the caller's), float arrays are
// added to the scores. `storage` keeps a converted copy alive for the call.
struct MaskArg {
  std::optional<FlagArray> flags;
  std::optional<FloatArray> values;
};

MaskArg read_mask(const py::object& object, const char* name) {
  MaskArg m;
  if (object.is_none()) return m;
  const py::array array = py::array::ensure(object);
  if (!array) throw py::type_error(std::string(name) + ": expected an array");
  const char kind = array.dtype().kind();
  if (kind == 'b' || (kind == 'u' && array.itemsize() == 1))
    m.flags = FlagArray::ensure(array);
  else if (kind == 'f')
    m.values = as_float(array, name);
  else
    throw py::type_error(std::string(name) + ": expected a bool or float array, got dtype " +
                         std::string(py::str(array.dtype())));
  return m;
}

std::optional<Mask> mask_of(const MaskArg& m, bool true_blocks) {
  if (m.flags) {
    const TensorView<const std::uint8_t> flags = view_of<std::uint8_t>(*m.flags);
    return true_blocks ? block_mask(flags) : keep_mask(flags);
  }
  if (m.values) return additive_mask(view_of<float>(*m.values));
  return std::nullopt;
}

class PyMultiheadAttention {
 public:
  PyMultiheadAttention(Index embed_dim, Index num_heads, Index num_kv_heads, Index kdim, Index vdim,
                       bool bias, bool add_bias_kv, bool add_zero_attn, bool batch_first,
                       const py::dict& state)
      : layer_(MultiHeadAttention::random({.embed_dim = embed_dim, .num_heads = num_heads,
                                           .num_kv_heads = num_kv_heads, .kdim = kdim, .vdim = vdim,
                                           .bias = bias, .add_bias_kv = add_bias_kv,
                                           .add_zero_attn = add_zero_attn, .batch_first = batch_first},
                                          0)) {
    MhaTensors<Tensor<>> tensors = copy_weights(layer_.weights());  // seeded; `state` replaces
    for_each_mha_tensor(
        [&](const char* name, Tensor<>& t) {
          if (state.contains(name)) t = Tensor<>::copy_of(view_of<float>(as_float(state[name], name)));
        },
        tensors);
    layer_ = MultiHeadAttention(layer_.config(), owned_weights(std::move(tensors)));
  }

  py::dict state_dict() const {
    py::dict out;
    for_each_mha_tensor(
        [&](const char* name, const Weight& w) {
          if (w.defined()) out[name] = to_numpy(Tensor<>::copy_of(w.view()));
        },
        layer_.weights());
    return out;
  }

  py::tuple forward(const py::object& query, const py::object& key, const py::object& value,
                    const py::object& key_padding_mask, bool need_weights, const py::object& attn_mask,
                    bool average_attn_weights, bool is_causal, const std::string& kernel) const {
    const FloatArray q = as_float(query, "query"), k = as_float(key, "key"), v = as_float(value, "value");
    const MaskArg padding = read_mask(key_padding_mask, "key_padding_mask"), mask = read_mask(attn_mask, "attn_mask");
    MhaOptions options;
    options.key_padding_mask = mask_of(padding, true);
    options.attn_mask = mask_of(mask, true);
    options.is_causal = is_causal;
    options.need_weights = need_weights;
    options.average_attn_weights = average_attn_weights;
    const Context ctx = context(kernel);
    MhaOutput out;
    {
      py::gil_scoped_release release;
      out = layer_.forward(view_of<float>(q), view_of<float>(k), view_of<float>(v), options, ctx);
    }
    return py::make_tuple(to_numpy(std::move(out.output)), to_numpy_or_none(std::move(out.weights)));
  }

 private:
  MultiHeadAttention layer_;
};

py::tuple sdpa(const py::object& query, const py::object& key, const py::object& value,
               const py::object& attn_mask, bool is_causal, std::optional<double> scale, bool need_weights,
               bool need_lse, const std::string& kernel) {
  const FloatArray q = as_float(query, "query"), k = as_float(key, "key"), v = as_float(value, "value");
  const MaskArg mask = read_mask(attn_mask, "attn_mask");
  SdpaOptions options;
  options.attn_mask = mask_of(mask, false);  // SDPA: True = may attend
  options.is_causal = is_causal;
  options.scale = scale;
  options.need_weights = need_weights;
  options.need_lse = need_lse;
  const Context ctx = context(kernel);
  SdpaOutput out;
  {
    py::gil_scoped_release release;
    out = scaled_dot_product_attention(view_of<float>(q), view_of<float>(k), view_of<float>(v), options, ctx);
  }
  return py::make_tuple(to_numpy(std::move(out.output)), to_numpy_or_none(std::move(out.lse)),
                        to_numpy_or_none(std::move(out.weights)));
}

using IdArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

py::dict bert_forward(const BertModel& model, const py::object& input_ids, const py::object& token_type_ids,
                      const py::object& attention_mask, bool output_attentions, const std::string& kernel) {
  const IdArray ids = IdArray::ensure(input_ids);
  if (!ids) throw py::type_error("input_ids: expected an integer array");
  std::optional<IdArray> types, mask;
  if (!token_type_ids.is_none()) types = IdArray::ensure(token_type_ids);
  if (!attention_mask.is_none()) mask = IdArray::ensure(attention_mask);
  const Context ctx = context(kernel);
  EncoderOutput out;
  {
    py::gil_scoped_release release;
    out = model.encode({.input_ids = view_of<std::int64_t>(ids),
                        .token_type_ids = types ? view_of<std::int64_t>(*types) : TensorView<const std::int64_t>{},
                        .attention_mask = mask ? view_of<std::int64_t>(*mask) : TensorView<const std::int64_t>{}},
                       {.output_hidden_states = true, .output_attentions = output_attentions}, ctx);
  }
  py::dict result;
  result["last_hidden_state"] = to_numpy(std::move(out.last_hidden_state));
  result["hidden_states"] = to_numpy_tuple(std::move(out.hidden_states));
  result["attentions"] = output_attentions ? py::object(to_numpy_tuple(std::move(out.attentions))) : py::object(py::none());
  return result;
}

// A model written by `mha train` (or a built-in demo model): the encoder and its vocabulary.
struct TrainedModel {
  Transformer model;
  lang::Vocabulary vocabulary;
  Index steps = 0;

  static TrainedModel load(const std::string& path) {
    train::Checkpoint c = train::load_checkpoint(path);
    lang::Vocabulary vocabulary = lang::Vocabulary::from_all_words(c.vocabulary);
    return {Transformer(c.config, std::move(c.parameters)), std::move(vocabulary), c.step};
  }

  py::dict forward(const std::string& text, const std::string& kernel) const {
    std::vector<std::int64_t> ids = vocabulary.encode(text, "text");
    if (ids.empty()) throw py::value_error("text: expected at least one word, got '" + text + "'");
    const TensorView<const std::int64_t> view(ids.data(), {1, static_cast<Index>(ids.size())});
    const Context ctx = context(kernel);
    TransformerOutput out;
    {
      py::gil_scoped_release release;
      out = model.forward({.input_ids = view}, {.output_hidden_states = true, .output_attentions = true}, ctx);
    }
    py::dict result;
    py::list tokens;
    for (const std::int64_t id : ids) tokens.append(vocabulary.word(id));
    result["tokens"] = tokens;
    result["input_ids"] = ids;
    result["last_hidden_state"] = to_numpy(std::move(out.last_hidden_state));
    result["hidden_states"] = to_numpy_tuple(std::move(out.hidden_states));
    result["attentions"] = to_numpy_tuple(std::move(out.attentions));
    result["logits"] = to_numpy(std::move(out.logits));
    return result;
  }
};

std::string head_view_html(const std::vector<std::string>& tokens, const py::sequence& attentions,
                           const std::string& title) {
  viz::HeadViewData data{.title = title, .tokens = tokens, .attention = {}, .query_key = {}, .focus = std::nullopt, .importance = std::nullopt};
  for (const py::handle& layer : attentions)
    data.attention.push_back(Tensor<>::copy_of(view_of<float>(as_float(layer, "attentions"))));
  std::ostringstream page;
  viz::write_head_view_html(data, page);
  return page.str();
}

}  // namespace
}  // namespace mha::python

PYBIND11_MODULE(_core, m) {
  using namespace mha;
  using namespace mha::python;
  m.doc() = "mha's layers and models over numpy arrays (use the mha package, not this module)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const SafetensorsError& e) {
      if (e.kind() == SafetensorsError::Kind::Io) PyErr_SetString(PyExc_OSError, e.what());
      else PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  py::class_<PyMultiheadAttention>(m, "MultiheadAttention")
      .def(py::init<Index, Index, Index, Index, Index, bool, bool, bool, bool, const py::dict&>(),
           py::arg("embed_dim"), py::arg("num_heads"), py::arg("num_kv_heads"), py::arg("kdim"),
           py::arg("vdim"), py::arg("bias"), py::arg("add_bias_kv"), py::arg("add_zero_attn"),
           py::arg("batch_first"), py::arg("state"))
      .def("state_dict", &PyMultiheadAttention::state_dict)
      .def("forward", &PyMultiheadAttention::forward, py::arg("query"), py::arg("key"), py::arg("value"),
           py::arg("key_padding_mask"), py::arg("need_weights"), py::arg("attn_mask"),
           py::arg("average_attn_weights"), py::arg("is_causal"), py::arg("kernel"));
  m.def("scaled_dot_product_attention", &sdpa, py::arg("query"), py::arg("key"), py::arg("value"),
        py::arg("attn_mask"), py::arg("is_causal"), py::arg("scale"), py::arg("need_weights"),
        py::arg("need_lse"), py::arg("kernel"));
  py::class_<BertModel>(m, "BertModel")
      .def_static("load", [](const std::string& folder) { return BertModel::load(folder); }, py::arg("folder"))
      .def_property_readonly("num_hidden_layers", [](const BertModel& b) { return b.config().num_hidden_layers; })
      .def_property_readonly("num_attention_heads", [](const BertModel& b) { return b.config().num_attention_heads; })
      .def_property_readonly("hidden_size", [](const BertModel& b) { return b.config().hidden_size; })
      .def("forward", &bert_forward, py::arg("input_ids"), py::arg("token_type_ids"), py::arg("attention_mask"),
           py::arg("output_attentions"), py::arg("kernel"));
  py::class_<TrainedModel>(m, "TrainedModel")
      .def_static("load", &TrainedModel::load, py::arg("path"))
      .def_property_readonly("num_layers", [](const TrainedModel& t) { return t.model.config().num_layers; })
      .def_property_readonly("num_heads", [](const TrainedModel& t) { return t.model.config().num_heads; })
      .def_property_readonly("d_model", [](const TrainedModel& t) { return t.model.config().d_model; })
      .def_property_readonly("steps", [](const TrainedModel& t) { return t.steps; })
      .def_property_readonly("words", [](const TrainedModel& t) { return t.vocabulary.words(); })
      .def("forward", &TrainedModel::forward, py::arg("text"), py::arg("kernel"));
  m.def("head_view_html", &head_view_html, py::arg("tokens"), py::arg("attentions"), py::arg("title"));
  m.def("set_num_threads", [](int n) {
    if (n < 0) throw py::value_error("set_num_threads: expected n >= 0 (0 = every core), got " + std::to_string(n));
    g_threads = n;
  });
  m.def("get_num_threads", [] { return cpu_threads(Context{.threads = g_threads.load()}); });
  m.def("simd_target", [] { return std::string(cpu_simd_target()); });
  // For the zero-copy tests: the address of the float32 data the library would read for `array`.
  m.def("_view_address", [](const py::object& array) {
    return reinterpret_cast<std::uintptr_t>(as_float(array, "array").data());
  });
}
