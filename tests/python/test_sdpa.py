"""mha.scaled_dot_product_attention against the formula computed with torch in float64, with
torch 2.x SDPA's mask convention (bool True = may attend), GQA, causal, scale, the log-sum-exp."""
import numpy as np
import pytest
import torch

import mha


def exact(q, k, v, mask=None, causal=False, scale=None):
    q64, k64, v64 = (torch.from_numpy(x).double() for x in (q, k, v))
    if k64.shape[-3] != q64.shape[-3]:
        repeat = q64.shape[-3] // k64.shape[-3]
        k64, v64 = k64.repeat_interleave(repeat, -3), v64.repeat_interleave(repeat, -3)
    s = q64 @ k64.transpose(-1, -2) * (scale if scale is not None else q64.shape[-1] ** -0.5)
    if causal:
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    if mask is not None:
        m = torch.from_numpy(mask)
        s = s.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else s + m.double()
    lse = torch.logsumexp(s, -1)
    return (torch.softmax(s, -1) @ v64).numpy(), lse.numpy(), torch.softmax(s, -1).numpy()


@pytest.mark.parametrize("seed", range(12))
def test_matches_the_formula(seed):
    rng = np.random.default_rng(seed)
    b, h, l, s, d = (int(rng.integers(1, n)) for n in (3, 5, 9, 9, 17))
    kv_heads = h if seed % 3 else 1
    q = rng.standard_normal((b, h, l, d)).astype(np.float32)
    k = rng.standard_normal((b, kv_heads, s, d)).astype(np.float32)
    v = rng.standard_normal((b, kv_heads, s, d)).astype(np.float32)
    mask = None
    if seed % 2:
        mask = rng.random((l, s)) < 0.7
        mask[:, 0] = True
    elif seed % 4 == 0:
        mask = rng.standard_normal((b, 1, l, s)).astype(np.float32)
    causal = seed % 5 == 0 and mask is None and l == s
    scale = 0.3 if seed % 7 == 0 else None
    out64, lse64, p64 = exact(q, k, v, mask, causal, scale)
    out = mha.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale,
                                           enable_gqa=kv_heads != h, kernel="ref")
    assert np.max(np.abs(out - out64)) <= 1e-5
    out2, lse, p = mha.scaled_dot_product_attention_with_weights(
        q, k, v, attn_mask=mask, is_causal=causal, scale=scale, enable_gqa=kv_heads != h)
    assert np.max(np.abs(lse - lse64)) <= 1e-5 * max(1.0, np.max(np.abs(lse64)))
    assert np.max(np.abs(p - p64)) <= 1e-5
    assert np.max(np.abs(out2 - out64)) <= 1e-4


def test_bool_mask_means_may_attend_the_opposite_of_mha():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1, 1, 2, 4)).astype(np.float32) for _ in range(3))
    only_first = np.array([[True, False]])
    out = mha.scaled_dot_product_attention(q, k, v, attn_mask=only_first)
    np.testing.assert_allclose(out[0, 0], np.repeat(v[0, 0, :1], 2, axis=0), atol=1e-6)


def test_torch_tensors_and_errors():
    q = torch.randn(2, 3, 4)
    out = mha.scaled_dot_product_attention(q, q, q)
    assert isinstance(out, torch.Tensor)
    expected = torch.softmax(q @ q.transpose(-1, -2) / 2.0, -1) @ q
    assert torch.max(torch.abs(out - expected)) <= 1e-5
    with pytest.raises(ValueError, match="enable_gqa"):
        mha.scaled_dot_product_attention(torch.randn(1, 4, 2, 4), torch.randn(1, 2, 2, 4), torch.randn(1, 2, 2, 4))
    with pytest.raises(ValueError, match="dropout_p"):
        mha.scaled_dot_product_attention(q, q, q, dropout_p=0.1)
    with pytest.raises(ValueError, match="k: expected last dimension 4"):
        mha.scaled_dot_product_attention(np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32),
                                         np.zeros((2, 3), np.float32))
