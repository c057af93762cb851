"""mha.MultiheadAttention against torch.nn.MultiheadAttention (torch 1.13, eval mode).

Tier 1 of the numerics (the float64 reference kernel vs torch fp32): max |Δ| ≤ 1e-5 on outputs
and weights, over 120 random configurations covering kdim/vdim, bias on/off, bias_k/v, zero_attn,
bool and float masks, key padding, causal masks, both layouts, unbatched input and the
need_weights default. Tier 2 for the fast kernel: |mha_cpu − exact| ≤ 2·|torch_fp32 − exact| +
floor, with exact = the same torch module in float64 and floor = 8 ulps of the output's scale.
"""
import numpy as np
import pytest
import torch

import mha

RNG_SEED = 20261201
CONFIGS = 120


def random_case(rng):
    heads = int(rng.integers(1, 9))
    head_dim = int(rng.choice([1, 2, 3, 4, 8, 16]))
    e = heads * head_dim
    separate = rng.random() < 0.3
    kdim = int(rng.integers(1, 12)) if separate else e
    vdim = int(rng.integers(1, 12)) if separate else e
    case = dict(
        embed_dim=e, num_heads=heads, kdim=kdim, vdim=vdim,
        bias=bool(rng.random() < 0.8), add_bias_kv=bool(rng.random() < 0.25),
        add_zero_attn=bool(rng.random() < 0.25), batch_first=bool(rng.random() < 0.5),
        batch=int(rng.integers(1, 5)), tgt=int(rng.integers(1, 12)), src=int(rng.integers(1, 12)),
        unbatched=bool(rng.random() < 0.15), padding=str(rng.choice(["none", "bool", "float"])),
        mask=str(rng.choice(["none", "bool2d", "bool3d", "float2d", "causal"])),
        need_weights=bool(rng.random() < 0.7), average=bool(rng.random() < 0.5),
        default_weights=bool(rng.random() < 0.3), self_attention=bool(rng.random() < 0.3) and not separate,
    )
    if case["mask"] == "causal" or case["self_attention"]:
        case["src"] = case["tgt"]
    return case


def make_inputs(case, rng):
    b, l, s, e = case["batch"], case["tgt"], case["src"], case["embed_dim"]

    def seq(length, width):
        shape = (length, width) if case["unbatched"] else ((b, length, width) if case["batch_first"] else (length, b, width))
        return rng.standard_normal(shape).astype(np.float32)

    q = seq(l, e)
    if case["self_attention"]:
        k = v = q
    else:
        k, v = seq(s, case["kdim"]), seq(s, case["vdim"])
    kw = {}
    pad_shape = (s,) if case["unbatched"] else (b, s)
    if case["padding"] != "none":
        blocked = rng.random(pad_shape) < 0.3
        blocked[..., 0] = False  # every row keeps a key: torch gives NaN for a fully masked row
        kw["key_padding_mask"] = blocked if case["padding"] == "bool" else np.where(blocked, -1e4, 0.0).astype(np.float32)
    if case["mask"] == "causal":
        kw["attn_mask"] = np.triu(np.ones((l, s), dtype=bool), 1)
    elif case["mask"] != "none":
        batch_heads = 1 if case["unbatched"] else b
        shape = (l, s) if case["mask"].endswith("2d") else (batch_heads * case["num_heads"], l, s)
        blocked = rng.random(shape) < 0.3
        blocked[..., 0] = False
        kw["attn_mask"] = blocked if case["mask"].startswith("bool") else rng.standard_normal(shape).astype(np.float32)
    if case["unbatched"] and case["mask"] == "bool3d":
        kw["attn_mask"] = kw["attn_mask"].reshape(case["num_heads"], l, s)
    return q, k, v, kw


def torch_layer(case, seed):
    torch.manual_seed(seed)
    layer = torch.nn.MultiheadAttention(case["embed_dim"], case["num_heads"], bias=case["bias"],
                                        add_bias_kv=case["add_bias_kv"], add_zero_attn=case["add_zero_attn"],
                                        kdim=case["kdim"], vdim=case["vdim"], batch_first=case["batch_first"])
    with torch.no_grad():  # torch starts the biases at 0: random ones test their placement
        for name, p in layer.named_parameters():
            if "bias" in name:
                p.normal_()
    return layer.eval()


def torch_call(layer, q, k, v, kw, case, dtype):
    def t(x):
        return torch.from_numpy(np.asarray(x)).to(dtype) if x.dtype != np.bool_ else torch.from_numpy(x)

    kw = dict(kw)
    pad, mask = kw.get("key_padding_mask"), kw.get("attn_mask")
    if pad is not None and mask is not None and pad.dtype != np.bool_ and mask.dtype != np.bool_:
        # torch 1.13 drops a float key_padding_mask when attn_mask is float too (torch 2.0 adds
        # them, as mha does): hand torch the sum as one (B·H, L, S) mask.
        heads = case["num_heads"]
        pad3 = pad[None, :] if pad.ndim == 1 else pad
        mask3 = mask if mask.ndim == 3 else mask[None]
        merged = np.repeat(pad3, heads, axis=0)[:, None, :] + (mask3 if mask3.shape[0] > 1 else mask3)
        kw["attn_mask"] = merged.astype(np.float32) if pad.ndim == 2 else merged[:heads].astype(np.float32)
        del kw["key_padding_mask"]
    args = {name: t(x) for name, x in kw.items()}
    extra = {} if case["default_weights"] else {"need_weights": case["need_weights"], "average_attn_weights": case["average"]}
    with torch.no_grad():
        out, weights = layer.to(dtype)(t(q), t(k), t(v), **args, **extra)
    return out.numpy(), None if weights is None else weights.numpy()


def mha_call(layer, q, k, v, kw, case):
    extra = {} if case["default_weights"] else {"need_weights": case["need_weights"], "average_attn_weights": case["average"]}
    return layer(q, k, v, **kw, **extra)


CASES = [(i, random_case(np.random.default_rng(RNG_SEED + i))) for i in range(CONFIGS)]


@pytest.mark.parametrize("index,case", CASES, ids=[f"case{i}" for i, _ in CASES])
def test_matches_torch(index, case):
    rng = np.random.default_rng(RNG_SEED + 1000 + index)
    q, k, v, kw = make_inputs(case, rng)
    reference = torch_layer(case, index)
    expected, expected_w = torch_call(reference, q, k, v, kw, case, torch.float32)
    exact, exact_w = torch_call(reference, q, k, v, kw, case, torch.float64)
    reference.float()
    for kernel in ("ref", "cpu"):
        layer = mha.from_torch(reference, kernel=kernel)
        out, weights = mha_call(layer, q, k, v, kw, case)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == expected.shape
        assert (weights is None) == (expected_w is None)
        pairs = [(out, expected, exact)] + ([] if weights is None else [(weights, expected_w, exact_w)])
        for ours, theirs, truth in pairs:
            if kernel == "ref":
                diff = np.max(np.abs(ours - theirs), initial=0.0)
                assert diff <= 1e-5, f"{case}: max |mha_ref − torch| = {diff}"
            else:
                floor = 8 * np.finfo(np.float32).eps * max(1.0, np.max(np.abs(truth), initial=0.0))
                bound = 2 * np.max(np.abs(theirs - truth), initial=0.0) + floor
                diff = np.max(np.abs(ours - truth), initial=0.0)
                assert diff <= bound, f"{case}: max |mha_cpu − exact| = {diff} > {bound}"


def test_need_weights_defaults_to_true_and_averages_like_torch():
    layer = mha.MultiheadAttention(8, 2)
    x = np.random.default_rng(1).standard_normal((5, 3, 8)).astype(np.float32)
    out, weights = layer(x, x, x)
    assert out.shape == (5, 3, 8) and weights.shape == (3, 5, 5)
    _, per_head = layer(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(per_head.mean(axis=1), weights, atol=1e-6)
    assert layer(x, x, x, need_weights=False)[1] is None


def test_torch_in_torch_out_numpy_in_numpy_out():
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    layer = mha.from_torch(reference)
    x = torch.randn(2, 4, 8)
    out, weights = layer(x, x, x)
    assert isinstance(out, torch.Tensor) and isinstance(weights, torch.Tensor)
    with torch.no_grad():
        expected, _ = reference(x, x, x)
    assert torch.max(torch.abs(out - expected)) <= 1e-5
    out_np, _ = layer(x.numpy(), x.numpy(), x.numpy())
    assert isinstance(out_np, np.ndarray)


def test_is_causal_equals_the_explicit_mask():
    layer = mha.MultiheadAttention(8, 2, kernel="ref")
    x = np.random.default_rng(2).standard_normal((6, 1, 8)).astype(np.float32)
    causal, _ = layer(x, x, x, is_causal=True)
    masked, _ = layer(x, x, x, attn_mask=np.triu(np.ones((6, 6), dtype=bool), 1))
    np.testing.assert_array_equal(causal, masked)


def test_grouped_query_heads():
    layer = mha.MultiheadAttention(8, 4, num_kv_heads=2, batch_first=True)
    state = layer.state_dict()
    assert state["in_proj_weight"].shape == (8 + 2 * 4, 8)
    x = np.random.default_rng(3).standard_normal((1, 3, 8)).astype(np.float32)
    assert layer(x, x, x)[0].shape == (1, 3, 8)


def test_state_dict_round_trip_and_torch_errors_for_keys():
    reference = torch.nn.MultiheadAttention(6, 3, kdim=4, vdim=5, add_bias_kv=True).eval()
    layer = mha.MultiheadAttention(6, 3, kdim=4, vdim=5, add_bias_kv=True)
    layer.load_state_dict(reference.state_dict())
    state = layer.state_dict()
    for name, tensor in reference.state_dict().items():
        np.testing.assert_array_equal(state[name], tensor.numpy(), err_msg=name)
    broken = dict(reference.state_dict())
    del broken["bias_k"]
    broken["extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias_k"'):
        layer.load_state_dict(broken)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        layer.load_state_dict(broken)
    layer.load_state_dict({"out_proj.bias": np.ones(6, dtype=np.float32)}, strict=False)
    np.testing.assert_array_equal(layer.state_dict()["out_proj.bias"], np.ones(6))
    wrong = dict(reference.state_dict())
    wrong["q_proj_weight"] = torch.zeros(6, 5)
    with pytest.raises(ValueError, match=r"q_proj_weight: expected shape \[6, 6\], got \[6, 5\]"):
        layer.load_state_dict(wrong)


def test_bad_inputs_raise_named_errors():
    layer = mha.MultiheadAttention(8, 2)
    x = np.zeros((3, 1, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="query"):
        layer(np.zeros((3, 1, 7), dtype=np.float32), x, x)
    with pytest.raises(TypeError, match="query: expected a numpy array, a torch tensor or a DLPack array"):
        layer("not an array", x, x)
    with pytest.raises(TypeError, match="key_padding_mask: expected a bool or float array"):
        layer(x, x, x, key_padding_mask=np.zeros((1, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="key_padding_mask"):
        layer(x, x, x, key_padding_mask=np.zeros((1, 4), dtype=bool))
    with pytest.raises(ValueError, match="embed_dim: expected a multiple of num_heads"):
        mha.MultiheadAttention(9, 2)
    with pytest.raises(ValueError, match="kernel: expected one of cpu, ref"):
        mha.MultiheadAttention(8, 2, kernel="gpu")
    with pytest.raises(ValueError, match="dropout"):
        mha.MultiheadAttention(8, 2, dropout=1.5)
