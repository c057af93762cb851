// PyTorch nn.MultiheadAttention state_dicts stored as safetensors: load one into a
// MultiHeadAttention, or add a layer's weights to a file under the same names.
//
// Tensor names (after an optional prefix), shapes with E = embed_dim:
//   in_proj_weight  [3E, E]       Q, K, V rows stacked (only when kdim == vdim == E)
//   q_proj_weight   [E, E]     }
//   k_proj_weight   [E, kdim]  } instead of in_proj_weight
//   v_proj_weight   [E, vdim]  }
//   in_proj_bias    [3E]          } present together when bias=True
//   out_proj.bias   [E]           }
//   out_proj.weight [E, E]
//   bias_k, bias_v  [1, 1, E]     present together when add_bias_kv=True
// embed_dim, kdim, vdim, bias and add_bias_kv follow from which tensors exist and their shapes;
// num_heads, batch_first and add_zero_attn are not stored in a state_dict, so the caller says them.
// Float tensors may be F32, F16, BF16 or F64 (converted to float).
#pragma once

#include <string>
#include <string_view>

#include "mha/io/safetensors.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha {

struct MhaStateDictOptions {
  Index num_heads = 1;
  bool batch_first = false;
  bool add_zero_attn = false;
  // Prepended to every name, e.g. "encoder.self_attn." for a layer inside a bigger model.
  std::string prefix{};
};

// Reads and validates the layer; throws mha::Error naming the missing or inconsistent tensor.
MultiHeadAttention load_mha_state_dict(const SafetensorsFile& file,
                                       const MhaStateDictOptions& options);

// Adds the defined tensors of `weights` under their state_dict names (prefix + name).
void add_mha_state_dict(SafetensorsWriter& writer, const MhaWeights& weights,
                        std::string_view prefix = "");

}  // namespace mha
