"""mha from Python: multi-head attention with torch.nn.MultiheadAttention's semantics.

    import mha, torch
    layer = mha.from_torch(torch_layer)            # or mha.MultiheadAttention(512, 8) + load_state_dict
    out, weights = layer(q, k, v)                  # torch in → torch out; numpy in → numpy out

Inputs are read where they lie when they are contiguous float32 arrays or tensors (no copy);
anything else costs one conversion copy. Outputs own the library's buffer (no copy). The GIL is
released while mha computes, so Python threads may call one layer at once. Errors from the
library raise ValueError (OSError for files), with its message naming the argument.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Tuple

import numpy as np

from . import _core

__all__ = [
    "MultiheadAttention",
    "from_torch",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_with_weights",
    "BertModel",
    "TrainedModel",
    "head_view_html",
    "set_num_threads",
    "get_num_threads",
    "simd_target",
]

set_num_threads = _core.set_num_threads
get_num_threads = _core.get_num_threads
simd_target = _core.simd_target

_KERNELS = ("cpu", "ref")


def _torch():
    try:
        import torch  # noqa: F401  (optional: only for torch inputs)
    except ImportError:  # pragma: no cover - torch is installed where the tests run
        return None
    return torch


def _is_torch(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _to_numpy(x: Any, name: str) -> Optional[np.ndarray]:
    """A numpy view of x: a CPU torch tensor shares its memory (no copy)."""
    if x is None:
        return None
    if _is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got one on {x.device}")
        return x.detach().numpy()
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):  # any other DLPack producer on the CPU, read in place
        return np.from_dlpack(x)
    raise TypeError(f"{name}: expected a numpy array, a torch tensor or a DLPack array, got {type(x).__name__}")


def _like(result: Optional[np.ndarray], as_torch: bool):
    if result is None or not as_torch:
        return result
    return _torch().from_numpy(result)


def _check_kernel(kernel: str) -> str:
    if kernel not in _KERNELS:
        raise ValueError(f"kernel: expected one of {', '.join(_KERNELS)}, got {kernel!r}")
    return kernel


class MultiheadAttention:
    """torch.nn.MultiheadAttention's constructor, state_dict names, call signature and defaults.

    Extras: num_kv_heads (grouped-query attention: fewer key/value heads, dividing num_heads),
    kernel ("cpu": the fast fused kernel; "ref": the float64 reference), and forward's is_causal.
    mha runs inference: like a torch module in eval() mode, dropout is stored but not applied.
    New layers start from seeded Xavier-uniform weights (seed 0); load_state_dict sets them.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: Optional[int] = None,
                 vdim: Optional[int] = None, batch_first: bool = False,
                 num_kv_heads: Optional[int] = None, kernel: str = "cpu"):
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout}")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.num_kv_heads = int(num_kv_heads) if num_kv_heads is not None else self.num_heads
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self.dropout = float(dropout)
        self.bias = bool(bias)
        self.add_bias_kv = bool(add_bias_kv)
        self.add_zero_attn = bool(add_zero_attn)
        self.batch_first = bool(batch_first)
        self.kernel = _check_kernel(kernel)
        self._layer = self._build({})

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def _qkv_same_embed_dim(self) -> bool:
        return self.kdim == self.embed_dim and self.vdim == self.embed_dim

    def _build(self, state: Mapping[str, np.ndarray]):
        return _core.MultiheadAttention(self.embed_dim, self.num_heads, self.num_kv_heads, self.kdim,
                                        self.vdim, self.bias, self.add_bias_kv, self.add_zero_attn,
                                        self.batch_first, dict(state))

    def _expected_keys(self):
        keys = ["in_proj_weight"] if self._qkv_same_embed_dim else [
            "q_proj_weight", "k_proj_weight", "v_proj_weight"]
        if self.bias:
            keys += ["in_proj_bias", "out_proj.bias"]
        keys.append("out_proj.weight")
        if self.add_bias_kv:
            keys += ["bias_k", "bias_v"]
        return keys

    def state_dict(self) -> dict:
        """The weights under nn.MultiheadAttention's names, as numpy arrays (copies)."""
        return dict(self._layer.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        """Takes a torch state_dict() (or a mapping of numpy arrays) with nn.MultiheadAttention's
        names. Missing or unexpected keys raise RuntimeError when strict, as torch does; a wrong
        shape raises ValueError naming the tensor."""
        expected = self._expected_keys()
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                parts.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            raise RuntimeError("Error(s) in loading state_dict for MultiheadAttention:\n\t" + "\n\t".join(parts))
        current = self.state_dict()
        for k in expected:
            if k in state_dict:
                current[k] = _to_numpy(state_dict[k], k)
        self._layer = self._build(current)
        return None

    def __call__(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                 attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        return self.forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                            average_attn_weights, is_causal)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False) -> Tuple[Any, Any]:
        """(output, weights or None), of the query's kind (torch tensors or numpy arrays).

        Masks follow nn.MultiheadAttention: bool True = may NOT attend (float masks are added
        to the scores); key_padding_mask (B, S) or (S,), attn_mask (L, S) or (B·H, L, S)."""
        as_torch = _is_torch(query)
        out, weights = self._layer.forward(
            _to_numpy(query, "query"), _to_numpy(key, "key"), _to_numpy(value, "value"),
            _to_numpy(key_padding_mask, "key_padding_mask"), bool(need_weights),
            _to_numpy(attn_mask, "attn_mask"), bool(average_attn_weights), bool(is_causal), self.kernel)
        return _like(out, as_torch), _like(weights, as_torch)

    def __repr__(self) -> str:
        return (f"mha.MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"num_kv_heads={self.num_kv_heads}, kdim={self.kdim}, vdim={self.vdim}, "
                f"batch_first={self.batch_first}, kernel={self.kernel!r})")


def from_torch(module, kernel: str = "cpu") -> MultiheadAttention:
    """An mha layer with the configuration and weights of a torch.nn.MultiheadAttention."""
    layer = MultiheadAttention(
        module.embed_dim, module.num_heads, dropout=module.dropout,
        bias=module.in_proj_bias is not None, add_bias_kv=module.bias_k is not None,
        add_zero_attn=module.add_zero_attn, kdim=module.kdim, vdim=module.vdim,
        batch_first=module.batch_first, kernel=kernel)
    layer.load_state_dict(module.state_dict())
    return layer


def _sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, need_weights, need_lse, kernel):
    if dropout_p != 0.0:
        raise ValueError(f"dropout_p: expected 0.0 (mha runs inference), got {dropout_p}")
    q, k = _to_numpy(query, "query"), _to_numpy(key, "key")
    if not enable_gqa and q.ndim >= 3 and k.ndim == q.ndim and k.shape[-3] != q.shape[-3]:
        raise ValueError(f"key: expected {q.shape[-3]} heads like query (pass enable_gqa=True for "
                         f"grouped-query attention), got {k.shape[-3]}")
    return _core.scaled_dot_product_attention(q, k, _to_numpy(value, "value"),
                                              _to_numpy(attn_mask, "attn_mask"), bool(is_causal),
                                              None if scale is None else float(scale), need_weights,
                                              need_lse, _check_kernel(kernel))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False, kernel: str = "cpu"):
    """torch 2.x F.scaled_dot_product_attention: softmax(q·kᵀ·scale + mask)·v.

    **A bool attn_mask here means True = MAY attend — the opposite of MultiheadAttention's masks**
    (PyTorch's own two conventions); a float mask is added to the scores. q [..., L, D],
    k [..., S, D], v [..., S, Dv]; with enable_gqa, k and v may have fewer heads than q."""
    as_torch = _is_torch(query)
    out, _, _ = _sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, False, False, kernel)
    return _like(out, as_torch)


def scaled_dot_product_attention_with_weights(query, key, value, attn_mask=None,
                                              is_causal: bool = False, scale: Optional[float] = None,
                                              enable_gqa: bool = False, need_weights: bool = True,
                                              kernel: str = "cpu"):
    """As scaled_dot_product_attention, returning (output, log-sum-exp, weights or None).

    The log-sum-exp of query row i is log Σ_j exp(s_ij) over the scaled, masked scores: what a
    caller needs to merge attention over several blocks of keys."""
    as_torch = _is_torch(query)
    out, lse, weights = _sdpa(query, key, value, attn_mask, 0.0, is_causal, scale, enable_gqa,
                              bool(need_weights), True, kernel)
    return _like(out, as_torch), _like(lse, as_torch), _like(weights, as_torch)


class BertModel:
    """A Hugging Face BERT checkpoint folder (config.json + model.safetensors)."""

    def __init__(self, model, kernel: str = "cpu"):
        self._model = model
        self.kernel = _check_kernel(kernel)

    @classmethod
    def from_pretrained(cls, folder: str, kernel: str = "cpu") -> "BertModel":
        return cls(_core.BertModel.load(str(folder)), kernel)

    @property
    def config(self) -> dict:
        m = self._model
        return {"num_hidden_layers": m.num_hidden_layers, "num_attention_heads": m.num_attention_heads,
                "hidden_size": m.hidden_size}

    def __call__(self, input_ids, token_type_ids=None, attention_mask=None, output_attentions: bool = True):
        """A dict like Hugging Face's output: last_hidden_state [B, L, E], hidden_states (N + 1
        arrays), attentions (N arrays [B, H, L, L], or None), of the input's kind."""
        as_torch = _is_torch(input_ids)
        out = self._model.forward(_to_numpy(input_ids, "input_ids"), _to_numpy(token_type_ids, "token_type_ids"),
                                  _to_numpy(attention_mask, "attention_mask"), bool(output_attentions), self.kernel)
        result = {"last_hidden_state": _like(out["last_hidden_state"], as_torch),
                  "hidden_states": tuple(_like(h, as_torch) for h in out["hidden_states"])}
        attentions = out["attentions"]
        result["attentions"] = None if attentions is None else tuple(_like(a, as_torch) for a in attentions)
        return result


class TrainedModel:
    """A model written by `mha train` (a checkpoint file), or one of the two trained demo models
    that ship with the package: TrainedModel.demo("demo-4-heads") or ("demo-1-head")."""

    _DEMOS = {"demo": "demo-4-heads", "demo-4-heads": "demo-4-heads", "demo-1-head": "demo-1-head"}

    def __init__(self, model, kernel: str = "cpu"):
        self._model = model
        self.kernel = _check_kernel(kernel)

    @classmethod
    def load(cls, path: str, kernel: str = "cpu") -> "TrainedModel":
        return cls(_core.TrainedModel.load(str(path)), kernel)

    @classmethod
    def demo(cls, name: str = "demo-4-heads", kernel: str = "cpu") -> "TrainedModel":
        if name not in cls._DEMOS:
            raise ValueError(f"name: expected one of {', '.join(cls._DEMOS)}, got {name!r}")
        path = os.path.join(os.path.dirname(__file__), "models", cls._DEMOS[name] + ".safetensors")
        return cls.load(path, kernel)

    @property
    def config(self) -> dict:
        m = self._model
        return {"num_layers": m.num_layers, "num_heads": m.num_heads, "d_model": m.d_model, "steps": m.steps}

    @property
    def words(self):
        return list(self._model.words)

    def __call__(self, text: str) -> dict:
        """The words of `text` through the model: tokens, input_ids, last_hidden_state [1, L, d],
        hidden_states, attentions (one [1, H, L, L] per layer) and logits [1, L, V]."""
        return dict(self._model.forward(str(text), self.kernel))


def head_view_html(tokens, attentions, title: str = "mha head view") -> str:
    """The offline head view page (one HTML string; a notebook shows it with IPython.display.HTML).

    attentions: one [H, L, L] array per layer (a [1, H, L, L] batch of one is accepted too)."""
    layers = []
    for a in attentions:
        a = _to_numpy(a, "attentions")
        layers.append(a[0] if a.ndim == 4 and a.shape[0] == 1 else a)
    return _core.head_view_html([str(t) for t in tokens], layers, title)
