#!/usr/bin/python3
"""Writes the PyTorch gradient fixtures for mha's MultiHeadAttention backward (tests/fixtures/grad/).

Each random configuration becomes grad_NNN.safetensors, holding everything a parity fixture holds
that the C++ loader (tests/parity/parity_case.hpp) reads — the state_dict, query/key/value in
PyTorch's layout, the masks and the same __metadata__ keys — plus
  - grad_output : dL/d output, random normal, the output's shape,
  - expected.output : the forward's output,
  - grad.<name> : dL/d every parameter under its state_dict name, and grad.query, grad.key,
    grad.value for the three inputs (taken as three separate tensors, even when the case feeds
    torch one tensor for all three: mha's backward reports each argument's gradient).
Reference values come from PyTorch autograd in float64 on a float64 copy of the float32 layer and
inputs, then rounded to float32. A configuration is kept only if float32 autograd agrees with
float64 to within a tenth of the C++ tolerance (1e-5·max(1, |ref|)): otherwise it is too
ill-conditioned to say anything about float32 code, and another is drawn.

The configurations, masks and weights come from make_parity_fixtures.py (imported, unchanged),
with a smaller float budget so the directory stays well under 3 MB. Dropout is 0: PyTorch's
dropout mask cannot be reproduced, so mha's dropout is checked against finite differences.
GQA does not exist in PyTorch 1.13; the C++ tests check it against finite differences and
against repeated kv heads.

    /usr/bin/python3 scripts/make_grad_fixtures.py --out tests/fixtures/grad --seed 5
"""

import copy
import pathlib
import random
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_parity_fixtures as parity  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402

FLOAT_BUDGET = 2500
SOUNDNESS = 1e-5  # float32 vs float64 autograd, relative to max(1, |ref|)


def gradients(layer, query, key, value, kpm, attn_mask, grad_output, c):
    """Output and d(output · grad_output) for every parameter and each of the three inputs."""
    layer.zero_grad()
    leaves = [x.detach().clone().requires_grad_(True) for x in (query, key, value)]
    out, _ = layer(*leaves, key_padding_mask=kpm, need_weights=False, attn_mask=attn_mask)
    (out * grad_output).sum().backward()
    grads = {f"grad.{name}": p.grad.detach().clone() for name, p in layer.named_parameters()}
    for name, leaf in zip(("query", "key", "value"), leaves):
        grads[f"grad.{name}"] = leaf.grad.detach().clone()
    return out.detach(), grads


def worst_relative(a, ref):
    return float(((a.double() - ref.double()).abs() / ref.double().abs().clamp(min=1.0)).max())


def build_case(c, gen):
    layer = parity.random_layer(c, gen)  # left in training mode: autograd runs through it
    query_lbe, key_lbe, value_lbe = parity.random_inputs(c, gen)
    kpm, attn_mask = parity.make_masks(c, gen)
    query, key, value = (parity.to_layout(x, c) for x in (query_lbe, key_lbe, value_lbe))
    kpm_in = kpm[0] if (kpm is not None and c["unbatched"]) else kpm
    out_shape = query.shape
    grad_output = torch.randn(out_shape, generator=gen)

    layer64 = copy.deepcopy(layer).double()
    mask64 = attn_mask.double() if (attn_mask is not None and attn_mask.is_floating_point()) else attn_mask
    out64, grads64 = gradients(layer64, query.double(), key.double(), value.double(), kpm_in,
                               mask64, grad_output.double(), c)
    out32, grads32 = gradients(layer, query, key, value, kpm_in, attn_mask, grad_output, c)
    worst = max(worst_relative(grads32[n], grads64[n]) for n in grads64)
    if not all(torch.isfinite(g).all() for g in grads64.values()) or worst > SOUNDNESS:
        return None

    tensors = parity.stored_inputs(c, layer, query, key, value, kpm_in, attn_mask)
    tensors["grad_output"] = grad_output.numpy()
    tensors["expected.output"] = out64.float().numpy()
    for name, g in grads64.items():
        tensors[name] = g.float().numpy()
    metadata = {
        "num_heads": c["heads"],
        "add_zero_attn": int(c["add_zero_attn"]),
        "batch_first": int(c["batch_first"]),
        "is_causal": int(c["attn_mask"] == "causal"),
        "self_attention": int(c["self_attention"]),
        "key_is_value": int(c["key_is_value"]),
        "description": parity.describe(c),
        "float32_autograd_worst_relative": f"{worst:.3g}",
        "torch_version": torch.__version__,
    }
    return tensors, metadata


def main(argv):
    args = parity.parse_arguments(argv, __doc__, out="tests/fixtures/grad", count=60, seed=5)

    torch.set_num_threads(1)
    parity.FLOAT_BUDGET = FLOAT_BUDGET  # sample_config reads it when called
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("grad_*.safetensors"):
        stale.unlink()
    forced = parity.forced_configs()
    configs, total, draws, rejected = [], 0, 0, 0
    while len(configs) < args.count:
        c = forced[draws] if draws < len(forced) else parity.sample_config(rng)
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + draws)
        draws += 1
        if parity.float_count(c) > 4 * FLOAT_BUDGET:  # a forced wide case: too big to keep
            continue
        case = build_case(c, gen)
        if case is None:
            rejected += 1
            continue
        tensors, metadata = case
        metadata.update(seed=args.seed, case=len(configs))
        path = args.out / f"grad_{len(configs):03d}.safetensors"
        write_safetensors(path, tensors, metadata)
        configs.append(c)
        total += path.stat().st_size
    print(f"wrote {len(configs)} cases ({rejected} ill-conditioned draws skipped), {total} bytes,"
          f" to {args.out}")
    print(parity.coverage(configs))


if __name__ == "__main__":
    main(sys.argv[1:])
