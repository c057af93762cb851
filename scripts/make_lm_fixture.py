#!/usr/bin/python3
"""Builds tests/fixtures/lm/: a tiny random causal language model as an mha checkpoint, and what
PyTorch computes for it, for tests/models/transformer_lm_test.cpp.

Run with Debian's PyTorch (python3-torch 1.13):  /usr/bin/python3 scripts/make_lm_fixture.py

The model is mha's pre-LN Transformer with causal = true (include/mha/models/transformer.hpp),
built here from PyTorch's own modules, so the test compares against torch rather than against a
second copy of our arithmetic:
  x0     = E[ids] * sqrt(d) + PE            PE: "Attention Is All You Need" section 3.5
  block  = nn.TransformerEncoderLayer(norm_first=True, activation="gelu", batch_first=True)
           with the causal mask triu(-inf, 1): position i sees keys 0 .. i
  logits = nn.Linear(final nn.LayerNorm(x_N))
Computed in float64 from the float32 weights (the expected values are exact up to float64
rounding); the float32 drift of the same modules is printed.

Writes
  model.safetensors     the checkpoint: state_dict names (embedding.weight, layers.{l}.self_attn.
                        in_proj_weight, ..., final_norm.*, lm_head.*), metadata mha.config (with
                        "causal": true), mha.vocabulary, mha.step, mha.training
  expected.safetensors  input_ids I64 [B, L]; hidden_states.{0..N} [B, L, d] (0 = embeddings,
                        l + 1 = block l's output); attentions.{l} [B, H, L, L] per head;
                        logits [B, L, V]
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

SEED = 20261201
WORDS = ["the", "a", "man", "dog", "saw", "with", "telescope", "bank", "river", "<eos>"]
VOCAB = ["[PAD]", "[MASK]"] + WORDS
CONFIG = {"vocab_size": len(VOCAB), "d_model": 16, "num_heads": 4, "num_layers": 2, "d_ff": 32,
          "max_length": 16, "norm": "pre", "activation": "gelu", "layer_norm_eps": 1e-5, "causal": True}
INPUT_IDS = [[11, 2, 4, 6, 2, 5, 11], [11, 2, 3, 7, 8, 9, 10]]  # <eos>-led streams, B = 2, L = 7
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "lm")


def sinusoidal_positions(length, width):
    pe = torch.zeros(length, width, dtype=torch.float64)
    for pos in range(length):
        for dim in range(width):
            angle = pos / 10000.0 ** ((dim - dim % 2) / width)
            pe[pos, dim] = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
    return pe


def random_state(gen):
    """Every tensor mha declares, in float32: weights, biases and norms all random (non-zero
    biases and non-unit gains, so a dropped term shows)."""
    d, f, v = CONFIG["d_model"], CONFIG["d_ff"], CONFIG["vocab_size"]

    def normal(*shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean).float()

    s = {"embedding.weight": normal(v, d, std=d ** -0.5)}
    for l in range(CONFIG["num_layers"]):
        p = f"layers.{l}."
        s[p + "self_attn.in_proj_weight"] = normal(3 * d, d, std=d ** -0.5)
        s[p + "self_attn.in_proj_bias"] = normal(3 * d, std=0.1)
        s[p + "self_attn.out_proj.weight"] = normal(d, d, std=d ** -0.5)
        s[p + "self_attn.out_proj.bias"] = normal(d, std=0.1)
        s[p + "linear1.weight"] = normal(f, d, std=d ** -0.5)
        s[p + "linear1.bias"] = normal(f, std=0.1)
        s[p + "linear2.weight"] = normal(d, f, std=f ** -0.5)
        s[p + "linear2.bias"] = normal(d, std=0.1)
        for n in ("norm1", "norm2"):
            s[p + n + ".weight"] = normal(d, std=0.1, mean=1.0)
            s[p + n + ".bias"] = normal(d, std=0.1)
    s["final_norm.weight"] = normal(d, std=0.1, mean=1.0)
    s["final_norm.bias"] = normal(d, std=0.1)
    s["lm_head.weight"] = normal(v, d, std=d ** -0.5)
    s["lm_head.bias"] = normal(v, std=0.1)
    return s


def torch_model(state, dtype):
    d, h, eps = CONFIG["d_model"], CONFIG["num_heads"], CONFIG["layer_norm_eps"]
    layers = []
    for l in range(CONFIG["num_layers"]):
        layer = torch.nn.TransformerEncoderLayer(d, h, CONFIG["d_ff"], dropout=0.0, activation="gelu",
                                                 layer_norm_eps=eps, batch_first=True, norm_first=True)
        prefix = f"layers.{l}."
        layer.load_state_dict({k[len(prefix):]: t for k, t in state.items() if k.startswith(prefix)})
        layers.append(layer.to(dtype).eval())
    final_norm = torch.nn.LayerNorm(d, eps=eps)
    final_norm.load_state_dict({"weight": state["final_norm.weight"], "bias": state["final_norm.bias"]})
    head = torch.nn.Linear(d, CONFIG["vocab_size"])
    head.load_state_dict({"weight": state["lm_head.weight"], "bias": state["lm_head.bias"]})
    return layers, final_norm.to(dtype).eval(), head.to(dtype).eval()


def run(state, ids, dtype):
    layers, final_norm, head = torch_model(state, dtype)
    length, d = ids.shape[1], CONFIG["d_model"]
    causal = torch.triu(torch.full((length, length), float("-inf"), dtype=dtype), diagonal=1)
    x = (state["embedding.weight"].to(dtype)[ids] * math.sqrt(d) + sinusoidal_positions(length, d).to(dtype))
    hidden, attentions = [x], []
    with torch.no_grad():
        for layer in layers:
            a = layer.norm1(x)
            _, weights = layer.self_attn(a, a, a, attn_mask=causal, need_weights=True,
                                         average_attn_weights=False)
            attentions.append(weights)
            x = layer(x, src_mask=causal)
            hidden.append(x)
        logits = head(final_norm(x))
    return hidden, attentions, logits


def main():
    gen = torch.Generator().manual_seed(SEED)
    state = random_state(gen)
    ids = torch.tensor(INPUT_IDS, dtype=torch.int64)
    hidden, attentions, logits = run(state, ids, torch.float64)
    _, _, logits32 = run(state, ids, torch.float32)
    print(f"float32 drift of the same modules: max |logits32 - logits64| = "
          f"{(logits32.double() - logits).abs().max().item():.3g}")
    for l, w in enumerate(attentions):  # the causal mask really is applied
        assert torch.all(torch.triu(w, diagonal=1) == 0), f"layer {l} attends to later positions"
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "model.safetensors"), state,
                      {"mha.config": json.dumps(CONFIG), "mha.vocabulary": json.dumps(VOCAB),
                       "mha.step": "0", "mha.training": "{}"})
    expected = {"input_ids": ids, "logits": logits.float()}
    for n, x in enumerate(hidden):
        expected[f"hidden_states.{n}"] = x.float()
    for n, w in enumerate(attentions):
        expected[f"attentions.{n}"] = w.float()
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"seed": str(SEED)})
    print(f"wrote {OUT}/model.safetensors and expected.safetensors")


if __name__ == "__main__":
    main()
