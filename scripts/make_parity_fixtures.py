#!/usr/bin/python3
"""Writes the PyTorch parity fixtures for mha's MultiHeadAttention (tests/parity/).

Each random configuration becomes one safetensors file, case_NNN.safetensors, holding
  - the layer's state_dict under PyTorch's names (in_proj_weight or q/k/v_proj_weight,
    in_proj_bias, out_proj.weight, out_proj.bias, bias_k, bias_v),
  - the inputs query/key/value in PyTorch's layout and the optional masks
    (key_padding_mask: BOOL; attn_mask: BOOL with True = blocked, or F32 additive),
  - expected.* : what torch.nn.MultiheadAttention returns (float32, as users run it),
  - intermediate.* : the projected q, k, v ([B, H, L or S', D], k and v extended by bias_kv and
    zero_attn) and the per-head attention output before out_proj ([B, H, L, D]), computed here
    with explicit torch ops so the C++ test can say which stage diverges first,
  - __metadata__ : the configuration as strings, and a one-line description.

Run with the system interpreter (PyTorch 1.13):
    /usr/bin/python3 scripts/make_parity_fixtures.py --out tests/fixtures/parity --seed 1

The output is a pure function of (--count, --seed): torch runs single-threaded and every random
draw comes from generators seeded here.
"""

import argparse
import copy
import math
import pathlib
import random
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from safetensors_writer import write_safetensors  # noqa: E402

# Float count one case may hold (inputs + weights + expected + intermediates); keeps the whole
# fixture directory near 5 MB. Wide layers and a few hand-picked extreme cases may exceed it.
FLOAT_BUDGET = 10000
# float32 torch must agree with float64 torch this closely, or the case is not a sound fixture.
SOUNDNESS_ATOL = 1e-5

# ---------------------------------------------------------------------------------------------
# Configurations


def sample_config(rng):
    """One random configuration: the features first, then sizes that fit the float budget."""
    c = {}
    c["unbatched"] = rng.random() < 0.15
    width = rng.random()
    if width < 0.6:
        c["head_dim"], c["heads"] = rng.randint(1, 8), rng.randint(1, 8)
    elif width < 0.88:
        c["head_dim"], c["heads"] = rng.randint(9, 16), rng.randint(1, 8)
    else:  # wide heads: few of them (E <= 64) so the weights stay small
        c["head_dim"] = rng.choice([24, 32, 40, 48, 64])
        c["heads"] = rng.randint(1, 64 // c["head_dim"])
    embed = c["heads"] * c["head_dim"]
    c["self_attention"] = rng.random() < 0.35
    c["key_is_value"] = False
    c["kdim"] = c["vdim"] = embed
    if not c["self_attention"]:
        dims = rng.random()
        if dims < 0.2:
            c["kdim"] = c["vdim"] = rng.randint(1, 48)  # same width, not E
        elif dims < 0.45:
            c["kdim"], c["vdim"] = rng.randint(1, 48), rng.randint(1, 48)  # usually kdim != vdim
        elif dims < 0.6:
            c["key_is_value"] = True  # encoder-decoder style: one memory tensor for key and value
    c["bias"] = rng.random() < 0.75
    c["add_bias_kv"] = rng.random() < 0.25
    c["add_zero_attn"] = rng.random() < 0.25
    c["batch_first"] = rng.random() < 0.5
    c["key_padding_mask"] = rng.random() < 0.35
    mask = rng.random()
    if mask < 0.18:
        c["attn_mask"], c["attn_mask_rank"] = "causal", 2
    elif mask < 0.36:
        c["attn_mask"], c["attn_mask_rank"] = "none", 0
    else:
        c["attn_mask"] = "bool" if rng.random() < 0.5 else "float"
        c["attn_mask_rank"] = 2 if rng.random() < 0.5 else 3

    # Sizes: redraw until the case fits; wide layers get room for their weights.
    c["batch"], c["tgt_len"], c["src_len"] = 1, 1, 1
    budget = max(FLOAT_BUDGET, float_count(c) + FLOAT_BUDGET // 2)
    for _ in range(1000):
        c["batch"] = 1 if c["unbatched"] else rng.randint(1, 8)
        c["tgt_len"] = rng.randint(1, 40)
        c["src_len"] = c["tgt_len"] if c["self_attention"] else rng.randint(1, 40)
        if float_count(c) <= budget:
            break
    return c


def forced_configs():
    """Extremes the random draw might miss: tiny and wide shapes, every maximum."""
    base = dict(unbatched=False, self_attention=False, key_is_value=False, bias=True,
                add_bias_kv=False, add_zero_attn=False, batch_first=False,
                key_padding_mask=False, attn_mask="none", attn_mask_rank=0)
    cases = [
        dict(batch=1, heads=1, head_dim=1, tgt_len=1, src_len=1),
        dict(batch=2, heads=2, head_dim=64, tgt_len=3, src_len=4, kdim=8, vdim=16),
        dict(batch=1, heads=1, head_dim=64, tgt_len=5, src_len=5, self_attention=True,
             attn_mask="causal", attn_mask_rank=2),
        dict(batch=8, heads=1, head_dim=2, tgt_len=40, src_len=40, key_padding_mask=True,
             attn_mask="float", attn_mask_rank=2, batch_first=True),
        dict(batch=2, heads=8, head_dim=1, tgt_len=7, src_len=40, attn_mask="bool",
             attn_mask_rank=3, key_padding_mask=True),
        dict(batch=1, heads=8, head_dim=2, tgt_len=40, src_len=1, unbatched=True,
             add_bias_kv=True, add_zero_attn=True),
        dict(batch=3, heads=4, head_dim=4, tgt_len=6, src_len=9, kdim=1, vdim=37,
             add_bias_kv=True, attn_mask="float", attn_mask_rank=3),
        dict(batch=2, heads=2, head_dim=3, tgt_len=1, src_len=12, bias=False,
             add_zero_attn=True, key_padding_mask=True, attn_mask="bool", attn_mask_rank=2),
    ]
    out = []
    for case in cases:
        c = dict(base)
        c.update(case)
        embed = c["heads"] * c["head_dim"]
        c.setdefault("kdim", embed)
        c.setdefault("vdim", embed)
        if c["self_attention"]:
            c["src_len"] = c["tgt_len"]
        out.append(c)
    return out


def float_count(c):
    """Floats stored for a configuration (the fixture-size budget)."""
    e, h = c["heads"] * c["head_dim"], c["heads"]
    b, l, s = c["batch"], c["tgt_len"], c["src_len"]
    s_ext = s + c["add_bias_kv"] + c["add_zero_attn"]
    weights = e * e + e * c["kdim"] + e * c["vdim"] + e * e + 4 * e + 2 * e
    inputs = b * (l * e + s * c["kdim"] + s * c["vdim"])
    masks = b * s + (h * b if c["attn_mask_rank"] == 3 else 1) * l * s
    outputs = 3 * b * l * e + 2 * b * s_ext * e + b * l * s_ext * (h + 1)
    return weights + inputs + masks + outputs


def describe(c):
    parts = ["unbatched" if c["unbatched"] else f"B={c['batch']}",
             f"L={c['tgt_len']}", f"S={c['src_len']}", f"H={c['heads']}", f"D={c['head_dim']}",
             f"E={c['heads'] * c['head_dim']}"]
    if c["self_attention"]:
        parts.append("self-attention")
    elif c["key_is_value"]:
        parts.append("cross-attention key=value")
    else:
        parts.append("cross-attention")
    if c["kdim"] != c["heads"] * c["head_dim"] or c["vdim"] != c["heads"] * c["head_dim"]:
        parts.append(f"kdim={c['kdim']} vdim={c['vdim']}")
    parts.append("bias" if c["bias"] else "no bias")
    for flag in ("add_bias_kv", "add_zero_attn", "batch_first", "key_padding_mask"):
        if c[flag]:
            parts.append(flag)
    if c["attn_mask"] == "causal":
        parts.append("causal")
    elif c["attn_mask"] != "none":
        parts.append(f"{c['attn_mask']} attn_mask {c['attn_mask_rank']}-D")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Building one case


def randomize_parameters(layer, gen):
    """Non-trivial weights and biases (PyTorch initialises biases to zero, which hides bugs)."""
    with torch.no_grad():
        for name, param in layer.named_parameters():
            if param.dim() == 2:  # projections: std 1/sqrt(fan_in) keeps activations O(1)
                param.copy_(torch.randn(param.shape, generator=gen) / math.sqrt(param.shape[1]))
            else:  # in_proj_bias, out_proj.bias, bias_k, bias_v
                param.copy_(0.5 * torch.randn(param.shape, generator=gen))


def random_layer(c, gen):
    """The configuration's nn.MultiheadAttention (dropout 0) with random parameters."""
    layer = torch.nn.MultiheadAttention(
        c["heads"] * c["head_dim"], c["heads"], bias=c["bias"], add_bias_kv=c["add_bias_kv"],
        add_zero_attn=c["add_zero_attn"], kdim=c["kdim"], vdim=c["vdim"],
        batch_first=c["batch_first"])
    randomize_parameters(layer, gen)
    return layer


def random_inputs(c, gen):
    """query (L, B, E), key (S, B, kdim), value (S, B, vdim); one tensor where the case shares."""
    b, l, s = c["batch"], c["tgt_len"], c["src_len"]
    query_lbe = torch.randn(l, b, c["heads"] * c["head_dim"], generator=gen)
    if c["self_attention"]:
        key_lbe = value_lbe = query_lbe
    elif c["key_is_value"]:
        key_lbe = value_lbe = torch.randn(s, b, c["kdim"], generator=gen)
    else:
        key_lbe = torch.randn(s, b, c["kdim"], generator=gen)
        value_lbe = torch.randn(s, b, c["vdim"], generator=gen)
    return query_lbe, key_lbe, value_lbe


def stored_inputs(c, layer, query, key, value, kpm_in, attn_mask):
    """What every fixture stores for the C++ loader: the state_dict, the inputs and the masks."""
    tensors = {name: p.detach().numpy() for name, p in layer.state_dict().items()}
    tensors["query"] = query.numpy()
    tensors["key"] = key.numpy()
    tensors["value"] = value.numpy()
    if kpm_in is not None:
        tensors["key_padding_mask"] = kpm_in.numpy()
    if attn_mask is not None and c["attn_mask"] != "causal":  # causal: the flag replaces the mask
        tensors["attn_mask"] = attn_mask.numpy()  # (L, S) or (B·H, L, S); unbatched: (H, L, S)
    return tensors


def make_masks(c, gen):
    """Random (key_padding_mask, attn_mask) with no fully masked query row.

    PyTorch returns NaN for a row that keeps no key while mha defines 0, so such rows are not
    parity material: the draw is followed by a repair that re-opens one key per closed row.
    The bias_kv and zero_attn columns are never masked (PyTorch pads the masks with False / 0
    for them), so with either of those every row stays open anyway.
    """
    b, h, l, s = c["batch"], c["heads"], c["tgt_len"], c["src_len"]
    kpm = torch.rand(b, s, generator=gen) < 0.3 if c["key_padding_mask"] else None
    attn = None
    if c["attn_mask"] == "causal":
        attn = torch.ones(l, s, dtype=torch.bool).triu(1)  # key j > query i is blocked
    elif c["attn_mask"] != "none":
        shape = (l, s) if c["attn_mask_rank"] == 2 else (b * h, l, s)
        if c["attn_mask"] == "bool":
            attn = torch.rand(shape, generator=gen) < 0.3
        else:
            attn = 1.5 * torch.randn(shape, generator=gen)
            attn[torch.rand(shape, generator=gen) < 0.25] = float("-inf")
    if c["add_bias_kv"] or c["add_zero_attn"]:
        return kpm, attn

    def pick(candidates):  # one random index of a 1-D bool tensor's True entries
        where = candidates.nonzero().flatten()
        return int(where[torch.randint(len(where), (1,), generator=gen)])

    while True:
        closed = blocked_keys(c, kpm, attn).all(dim=-1).nonzero()
        if len(closed) == 0:
            return kpm, attn
        bi, hi, i = (int(x) for x in closed[0])
        if kpm is not None and (bool(kpm[bi].all()) or c["attn_mask"] == "causal"):
            # Padding closes the row: re-open a key the attention mask allows (j <= i if causal).
            causal = c["attn_mask"] == "causal"
            allowed = ~attn[i] if causal else torch.ones(s, dtype=torch.bool)
            kpm[bi, pick(allowed)] = False
            continue
        j = pick(~kpm[bi] if kpm is not None else torch.ones(s, dtype=torch.bool))
        row = (i,) if attn.dim() == 2 else (bi * h + hi, i)
        if attn.dtype == torch.bool:
            attn[row + (j,)] = False
        else:
            attn[row + (j,)] = 1.5 * float(torch.randn(1, generator=gen))


def blocked_keys(c, kpm, attn):
    """[B, H, L, S] bool: key j < S is excluded for query i of head h in batch b."""
    b, h, l, s = c["batch"], c["heads"], c["tgt_len"], c["src_len"]
    blocked = torch.zeros(b, h, l, s, dtype=torch.bool)
    if kpm is not None:
        blocked |= kpm.view(b, 1, 1, s)
    if attn is not None:
        flags = attn if attn.dtype == torch.bool else torch.isneginf(attn)
        blocked |= flags if flags.dim() == 2 else flags.view(b, h, l, s)
    return blocked


def explicit_intermediates(c, layer, query, key, value, attn_bias):
    """Projected q, k, v and the per-head attention output, with plain torch ops.

    Inputs are in (L, B, E) order here. attn_bias: additive [B, H, L, S'] float mask or None.
    """
    e, h, d = layer.embed_dim, c["heads"], c["head_dim"]
    b = c["batch"]
    if layer._qkv_same_embed_dim:
        w_q, w_k, w_v = layer.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = layer.q_proj_weight, layer.k_proj_weight, layer.v_proj_weight
    b_q = b_k = b_v = None
    if layer.in_proj_bias is not None:
        b_q, b_k, b_v = layer.in_proj_bias.chunk(3)
    q = F.linear(query, w_q, b_q)  # (L, B, E)
    k = F.linear(key, w_k, b_k)  # (S, B, E)
    v = F.linear(value, w_v, b_v)
    if layer.bias_k is not None:
        k = torch.cat([k, layer.bias_k.expand(1, b, e)])
        v = torch.cat([v, layer.bias_v.expand(1, b, e)])

    def heads(x):  # (T, B, E) -> (B, H, T, D)
        return x.reshape(x.shape[0], b, h, d).permute(1, 2, 0, 3).contiguous()

    q, k, v = heads(q), heads(k), heads(v)
    if c["add_zero_attn"]:
        k = torch.cat([k, torch.zeros(b, h, 1, d, dtype=k.dtype)], dim=2)
        v = torch.cat([v, torch.zeros(b, h, 1, d, dtype=v.dtype)], dim=2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # [B, H, L, S']
    if attn_bias is not None:
        scores = scores + attn_bias
    attn = torch.softmax(scores, dim=-1) @ v  # [B, H, L, D]
    return q, k, v, attn


def attention_bias(c, kpm, attn_mask):
    """The additive [B, H, L, S'] mask PyTorch ends up using (None when unmasked)."""
    if kpm is None and attn_mask is None:
        return None
    b, h, l, s = c["batch"], c["heads"], c["tgt_len"], c["src_len"]
    bias = torch.zeros(b, h, l, s)
    if attn_mask is not None:
        view = attn_mask if attn_mask.dim() == 2 else attn_mask.view(b, h, l, s)
        if attn_mask.dtype == torch.bool:
            bias = bias.masked_fill(view, float("-inf"))
        else:
            bias = bias + view
    if kpm is not None:
        bias = bias.masked_fill(kpm.view(b, 1, 1, s), float("-inf"))
    extra = c["add_bias_kv"] + c["add_zero_attn"]
    return F.pad(bias, (0, extra))


def to_layout(x_lbe, c):
    """(T, B, X) -> the layout the case feeds to torch: unbatched (T, X), batch_first (B, T, X)."""
    if c["unbatched"]:
        return x_lbe[:, 0].contiguous()
    if c["batch_first"]:
        return x_lbe.transpose(0, 1).contiguous()
    return x_lbe.contiguous()


def run_torch(layer, query, key, value, kpm, attn_mask, average):
    with torch.no_grad():
        return layer(query, key, value, key_padding_mask=kpm, need_weights=True,
                     attn_mask=attn_mask, average_attn_weights=average)


def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def build_case(c, gen):
    e = c["heads"] * c["head_dim"]
    b, l = c["batch"], c["tgt_len"]
    layer = random_layer(c, gen)
    layer.eval()
    query_lbe, key_lbe, value_lbe = random_inputs(c, gen)
    kpm, attn_mask = make_masks(c, gen)

    # What the user passes: the layout of the case, the same tensor object where shared (so
    # torch takes its self-attention / key-is-value paths), unbatched masks without the batch.
    query = to_layout(query_lbe, c)
    key = query if c["self_attention"] else to_layout(key_lbe, c)
    value = key if (c["self_attention"] or c["key_is_value"]) else to_layout(value_lbe, c)
    kpm_in = kpm[0] if (kpm is not None and c["unbatched"]) else kpm

    out, w_avg = run_torch(layer, query, key, value, kpm_in, attn_mask, True)
    out_again, w_heads = run_torch(layer, query, key, value, kpm_in, attn_mask, False)
    assert torch.equal(out, out_again)

    # Soundness: float32 torch must match float64 torch within SOUNDNESS_ATOL.
    layer64 = copy.deepcopy(layer).double()
    float_mask = attn_mask is not None and attn_mask.is_floating_point()
    mask64 = attn_mask.double() if float_mask else attn_mask
    query64 = query.double()
    key64 = query64 if c["self_attention"] else key.double()
    value64 = key64 if (c["self_attention"] or c["key_is_value"]) else value.double()
    out64, w_avg64 = run_torch(layer64, query64, key64, value64, kpm_in, mask64, True)
    _, w_heads64 = run_torch(layer64, query64, key64, value64, kpm_in, mask64, False)
    for name, a, ref in (("output", out, out64), ("weights_avg", w_avg, w_avg64),
                         ("weights_per_head", w_heads, w_heads64)):
        if not torch.isfinite(a).all():
            raise RuntimeError(f"{name} has NaN/Inf for: {describe(c)}")
        diff = max_diff(a, ref)
        if diff > SOUNDNESS_ATOL:
            raise RuntimeError(
                f"float32 vs float64 torch differ by {diff:.3g} in {name}: {describe(c)}")

    with torch.no_grad():
        bias = attention_bias(c, kpm, attn_mask)
        q, k, v, attn = explicit_intermediates(c, layer, query_lbe, key_lbe, value_lbe, bias)
        # The intermediates must reproduce torch's output through out_proj.
        concat = attn.permute(2, 0, 1, 3).reshape(l, b, e)  # (L, B, E)
        rebuilt = to_layout(layer.out_proj(concat), c)
    diff = max_diff(rebuilt, out)
    if diff > SOUNDNESS_ATOL:
        raise RuntimeError(f"explicit intermediates differ from torch by {diff:.3g}: {describe(c)}")

    tensors = stored_inputs(c, layer, query, key, value, kpm_in, attn_mask)
    tensors["expected.output"] = out.numpy()
    tensors["expected.weights_avg"] = w_avg.numpy()
    tensors["expected.weights_per_head"] = w_heads.numpy()
    tensors["intermediate.q"] = q.numpy()
    tensors["intermediate.k"] = k.numpy()
    tensors["intermediate.v"] = v.numpy()
    tensors["intermediate.attn"] = attn.numpy()

    metadata = {
        "num_heads": c["heads"],
        "embed_dim": e,
        "kdim": c["kdim"],
        "vdim": c["vdim"],
        "bias": int(c["bias"]),
        "add_bias_kv": int(c["add_bias_kv"]),
        "add_zero_attn": int(c["add_zero_attn"]),
        "batch_first": int(c["batch_first"]),
        "unbatched": int(c["unbatched"]),
        "is_causal": int(c["attn_mask"] == "causal"),
        "self_attention": int(c["self_attention"]),
        "key_is_value": int(c["key_is_value"]),
        "attn_mask": c["attn_mask"] if c["attn_mask"] != "causal" else "none",
        "description": describe(c),
        "torch_version": torch.__version__,
    }
    return tensors, metadata


def coverage(configs):
    """How many cases exercise each feature (printed so a regeneration shows what it covers)."""
    def embed(c):
        return c["heads"] * c["head_dim"]
    features = {
        "unbatched": lambda c: c["unbatched"],
        "batch_first (batched)": lambda c: c["batch_first"] and not c["unbatched"],
        "seq-first (batched)": lambda c: not c["batch_first"] and not c["unbatched"],
        "self-attention (query is key is value)": lambda c: c["self_attention"],
        "cross-attention, key is value": lambda c: c["key_is_value"],
        "cross-attention, separate key/value":
            lambda c: not c["self_attention"] and not c["key_is_value"],
        "kdim or vdim != E": lambda c: c["kdim"] != embed(c) or c["vdim"] != embed(c),
        "kdim != vdim": lambda c: c["kdim"] != c["vdim"],
        "bias": lambda c: c["bias"],
        "no bias": lambda c: not c["bias"],
        "add_bias_kv": lambda c: c["add_bias_kv"],
        "add_zero_attn": lambda c: c["add_zero_attn"],
        "key_padding_mask": lambda c: c["key_padding_mask"],
        "bool attn_mask 2-D": lambda c: c["attn_mask"] == "bool" and c["attn_mask_rank"] == 2,
        "bool attn_mask 3-D": lambda c: c["attn_mask"] == "bool" and c["attn_mask_rank"] == 3,
        "float attn_mask 2-D": lambda c: c["attn_mask"] == "float" and c["attn_mask_rank"] == 2,
        "float attn_mask 3-D": lambda c: c["attn_mask"] == "float" and c["attn_mask_rank"] == 3,
        "causal (is_causal)": lambda c: c["attn_mask"] == "causal",
        "no attn_mask": lambda c: c["attn_mask"] == "none",
        "L != S": lambda c: c["tgt_len"] != c["src_len"],
        "L = 1 or S = 1": lambda c: c["tgt_len"] == 1 or c["src_len"] == 1,
        "head_dim = 1": lambda c: c["head_dim"] == 1,
        "head_dim >= 32": lambda c: c["head_dim"] >= 32,
        "num_heads = 1": lambda c: c["heads"] == 1,
        "num_heads = 8": lambda c: c["heads"] == 8,
    }
    lines = [f"  {name:42s} {sum(bool(f(c)) for c in configs):4d}" for name, f in features.items()]
    ranges = {key: (min(c[key] for c in configs), max(c[key] for c in configs))
              for key in ("batch", "tgt_len", "src_len", "heads", "head_dim", "kdim", "vdim")}
    ranges["embed_dim"] = (min(embed(c) for c in configs), max(embed(c) for c in configs))
    lines += [f"  {key:42s} {lo}..{hi}" for key, (lo, hi) in ranges.items()]
    return "\n".join(lines)


def parse_arguments(argv, doc, out, count, seed):
    """The command line the fixture scripts share: --out DIR, --count N, --seed S (the defaults
    given), described by the first line of the script's docstring."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", default=out, type=pathlib.Path)
    parser.add_argument("--count", default=count, type=int)
    parser.add_argument("--seed", default=seed, type=int)
    return parser.parse_args(argv)


def main(argv):
    args = parse_arguments(argv, __doc__, out="tests/fixtures/parity", count=120, seed=1)

    torch.set_num_threads(1)  # same bytes on every machine, as far as torch's CPU kernels allow
    rng = random.Random(args.seed)
    configs = forced_configs()[: args.count]
    while len(configs) < args.count:
        configs.append(sample_config(rng))

    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("case_*.safetensors"):
        stale.unlink()
    total = 0
    for index, c in enumerate(configs):
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + index)
        tensors, metadata = build_case(c, gen)
        metadata["seed"] = args.seed
        metadata["case"] = index
        path = args.out / f"case_{index:03d}.safetensors"
        write_safetensors(path, tensors, metadata)
        total += path.stat().st_size
    print(f"wrote {len(configs)} cases, {total} bytes, to {args.out}")
    print(coverage(configs))


if __name__ == "__main__":
    main(sys.argv[1:])
