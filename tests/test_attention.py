"""lmul_simd.attention: bit for bit a NumPy composition of lmul_simd.matmul
and a float32 softmax (masks, causal, heads, narrow formats), grouped-query
attention against repeated key/value heads, and torch's SDPA within L-Mul's
error for k = 23."""
import importlib.util
import math

import ml_dtypes
import numpy as np
import pytest

import lmul_simd
from test_elementwise_exact import assert_same_bits

BF16 = ml_dtypes.bfloat16


def qkv(shape_q=(2, 3, 5, 8), shape_kv=(2, 3, 7, 8), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(dtype)
                 for s in (shape_q, shape_kv, shape_kv))


def softmax(s):
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def composed(q, k, v, mask=None, product=lmul_simd.matmul, scale=None):
    """The definition: two L-Mul products around a float32 softmax."""
    s = product(q, np.swapaxes(k, -1, -2))
    s *= s.dtype.type(1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None and mask.dtype == bool:
        s = np.where(mask, s, s.dtype.type(-np.inf))
    elif mask is not None:
        s = s + mask
    return product(softmax(s), v)


def masks(shape):
    rng = np.random.default_rng(1)
    keep = rng.random(shape) < 0.7
    return {"none": None, "bool": keep,
            "additive": np.where(keep, rng.standard_normal(shape), -np.inf).astype(np.float32),
            "causal": np.tri(shape[-2], shape[-1], dtype=bool)}


@pytest.mark.parametrize("mask_kind", ["none", "bool", "additive", "causal"])
@pytest.mark.parametrize("bits", [None, 4, 3])
def test_bits_equal_composition(mask_kind, bits):
    q, k, v = qkv()
    mask = masks((5, 7))[mask_kind]
    product = lmul_simd.matmul if bits is None else lmul_simd.matmul_k(bits)
    if mask_kind == "causal":
        got = lmul_simd.attention(q, k, v, is_causal=True, mantissa_bits=bits)
    else:
        got = lmul_simd.attention(q, k, v, mask=mask, mantissa_bits=bits)
    assert got.dtype == np.float32 and got.shape == (2, 3, 5, 8)
    assert_same_bits(got, composed(q, k, v, mask, product))


def test_scale_and_broadcast_batch_and_mask_per_head():
    q, _, _ = qkv()
    _, k, v = qkv(shape_kv=(1, 3, 7, 8), seed=2)
    mask = np.random.default_rng(3).random((3, 1, 7)) < 0.5
    got = lmul_simd.attention(q, k, v, mask=mask, scale=0.3)
    assert_same_bits(got, composed(q, k, v, mask, scale=0.3))


def test_float64_keeps_float64():
    q, k, v = qkv(dtype=np.float64)
    got = lmul_simd.attention(q, k, v, mantissa_bits=30)
    assert got.dtype == np.float64
    assert_same_bits(got, composed(q, k, v, product=lmul_simd.matmul_k(30)))


@pytest.mark.parametrize("length_q", [1, 4])
def test_grouped_query_attention_equals_repeated_heads(length_q):
    q, _, _ = qkv(shape_q=(2, 6, length_q, 8))
    _, k, v = qkv(shape_kv=(2, 2, 7, 8), seed=4)
    mask = np.random.default_rng(5).random((length_q, 7)) < 0.6
    mask[:, 0] = True
    got = lmul_simd.attention(q, k, v, mask=mask, mantissa_bits=4)
    k3, v3 = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)
    want = composed(q, k3, v3, mask, lmul_simd.matmul_k(4))
    assert got.shape == want.shape
    # the grouped rows may take another GEMM shape class than the repeated
    # heads (docs/contract.md section 4): the same products, summed in another order
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_row_that_sees_no_key_gives_zeros():
    q, k, v = qkv()
    mask = np.ones((5, 7), bool)
    mask[2] = False
    got = lmul_simd.attention(q, k, v, mask=mask)
    assert np.all(got[..., 2, :] == 0)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize("fmt", [BF16, np.float16])
def test_half_formats_keep_their_format(fmt):
    q, k, v = qkv(dtype=fmt)
    got = lmul_simd.attention(q, k, v, is_causal=True)
    assert got.dtype == fmt
    # Q K^T: the format's products (its own k) summed and kept in float32
    width = 7 if fmt is BF16 else 10
    s = lmul_simd.matmul_k(width)(q.astype(np.float32), np.swapaxes(k, -1, -2).astype(np.float32))
    s *= np.float32(1 / math.sqrt(8))
    p = softmax(np.where(np.tri(5, 7, dtype=bool), s, np.float32(-np.inf)))
    assert_same_bits(got, lmul_simd.matmul(p.astype(fmt), v))


@pytest.mark.parametrize("fmt", [ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2])
def test_float8_gives_float32(fmt):
    q, k, v = (x.astype(fmt) for x in qkv())
    got = lmul_simd.attention(q, k, v)
    assert got.dtype == np.float32 and np.all(np.isfinite(got))
    exact = lmul_simd.attention(*(x.astype(np.float32) for x in (q, k, v)))
    assert np.abs(got - exact).max() < 0.5


def test_inputs_not_modified():
    q, k, v = qkv()
    copies = [x.copy() for x in (q, k, v)]
    lmul_simd.attention(q, k, v, is_causal=True)
    for x, c in zip((q, k, v), copies):
        assert_same_bits(x, c)


@pytest.mark.parametrize("kwargs, error", [
    (dict(k=np.zeros((2, 3, 7, 9), np.float32)), ValueError),
    (dict(v=np.zeros((2, 3, 6, 8), np.float32)), ValueError),
    (dict(k=np.zeros((2, 2, 7, 8), np.float32), v=np.zeros((2, 2, 7, 8), np.float32)), ValueError),
    (dict(mask=np.ones((5, 7), bool), is_causal=True), ValueError),
    (dict(mask=np.ones((5, 7), np.int32)), TypeError),
    (dict(mantissa_bits=0), ValueError),
    (dict(mantissa_bits=24), ValueError),
    (dict(q=np.zeros(8, np.float32)), ValueError),
    (dict(q=np.zeros((2, 3, 5, 8), np.int32), k=np.zeros((2, 3, 7, 8), np.int32),
          v=np.zeros((2, 3, 7, 8), np.int32)), TypeError),
])
def test_bad_input_raises(kwargs, error):
    q, k, v = qkv()
    args = dict(q=q, k=k, v=v)
    args.update(kwargs)
    with pytest.raises(error):
        lmul_simd.attention(**args)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("case", ["plain", "bool", "additive", "causal", "gqa"])
def test_close_to_torch_sdpa_for_k23(case):
    import torch
    rng = np.random.default_rng(6)
    heads_kv = 2 if case == "gqa" else 4
    q = rng.standard_normal((2, 4, 16, 32)).astype(np.float32)
    k, v = (rng.standard_normal((2, heads_kv, 24, 32)).astype(np.float32) for _ in range(2))
    mask = masks((16, 24)).get(case)
    if mask is not None:
        mask[:, 0] = True if mask.dtype == bool else 0.0
    got = lmul_simd.attention(q, k, v, mask=None if case == "causal" else mask,
                              is_causal=case == "causal")
    t = [torch.from_numpy(x) for x in (q, k, v)]
    want = torch.nn.functional.scaled_dot_product_attention(
        *t, attn_mask=None if mask is None or case == "causal" else torch.from_numpy(mask),
        is_causal=case == "causal", enable_gqa=case == "gqa").numpy()
    # L-Mul (k = 23 keeps every bit, but its 2^-4 term replaces x_m y_m) errs
    # by a few percent per product; a wrong mask or head would err by ~100%
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 0.05, rel
