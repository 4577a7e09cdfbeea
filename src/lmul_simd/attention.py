"""Scaled dot-product attention whose two products are L-Mul products.

    >>> import numpy as np, lmul_simd
    >>> q = k = v = np.ones((2, 4, 3, 8), np.float32)   # (batch, heads, length, dim)
    >>> lmul_simd.attention(q, k, v, is_causal=True, mantissa_bits=3).shape
    (2, 4, 3, 8)

Only Q K^T and P V are L-Mul products (`lmul_simd.matmul`, or `matmul_k`
when `mantissa_bits` is given); the scaling, the mask and the softmax are
ordinary float32 arithmetic (float64 for float64 inputs), as in the paper,
which replaces the multiplications of the two attention products only.
"""
import math

import numpy as np
from numpy.typing import ArrayLike

from . import reference
from ._api import matmul, matmul_k

__all__ = ["attention"]


def attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None = None,
              is_causal: bool = False, scale: float | None = None,
              mantissa_bits: int | None = None) -> np.ndarray:
    """softmax(scale * L-Mul(Q, K^T) + mask) L-Mul V, as torch's
    ``scaled_dot_product_attention`` lays it out.

    q: (..., Hq, L, E); k: (..., Hkv, S, E); v: (..., Hkv, S, Ev); the leading
    (batch) dimensions broadcast. Hq may be a multiple of Hkv (grouped-query
    attention): each key/value head serves Hq / Hkv consecutive query heads,
    and no key or value is copied for that (the query heads of a group are
    stacked as rows of one product instead).

    mask: broadcastable to (..., Hq, L, S); boolean (True = takes part, as in
    torch) or additive (float, added to the scaled scores). is_causal: query i
    sees keys 0..i (the top-left aligned triangle, as torch); not together with
    a mask. A row that sees no key gives zeros (as torch's SDPA on CPU).
    scale: defaults to 1 / sqrt(E). mantissa_bits: the k of L-Mul (1..23, or
    1..52 for float64); the default is the input format's mantissa width.

    Formats: float32 and float64 give their own format. float16 and bfloat16
    (ml_dtypes) give their own format: Q K^T is summed in float32 and left
    unrounded for the softmax, P is rounded to the input format for P V, whose
    float32 sum is rounded once at the end. float8 (e4m3fn, e5m2) likewise, but
    the result is float32, as L-Mul's float8 products are (docs/contract.md section 3, the result's format);
    note that P rounded to float8 keeps 2-3 mantissa bits of each probability.
    """
    q, k, v = (np.asarray(x) for x in (q, k, v))
    fmt = np.result_type(q, k, v)
    container = reference.container_for(fmt).dtype
    _check_shapes(q, k, v)
    qk_product, pv_product = _products(fmt, mantissa_bits)
    groups = _query_groups(q, k)

    grouped_q = _group_heads(q.astype(container, copy=False), groups)
    scores = qk_product(grouped_q, np.swapaxes(k.astype(container, copy=False), -1, -2))
    scores = _ungroup_heads(scores, groups)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores *= container.type(scale)
    scores = _apply_mask(scores, mask, is_causal)
    p = _softmax(scores).astype(fmt, copy=False)
    out = pv_product(_group_heads(p, groups), v.astype(fmt, copy=False))
    return _ungroup_heads(out, groups)


def _products(fmt, mantissa_bits):
    """(product for Q K^T on container values, product for P V on `fmt`)."""
    if mantissa_bits is None:
        if fmt in (np.float32, np.float64):
            return matmul, matmul
        # narrow formats: their own width on their (exact) float32 values
        return matmul_k(reference.default_k(fmt)), matmul
    product = matmul_k(mantissa_bits)
    return product, product


def _check_shapes(q, k, v):
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError("q, k and v need at least 2 dimensions (length, dim)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension (E), got "
                         f"{q.shape} and {k.shape}")
    if k.shape[-2] != v.shape[-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"k and v must agree but for their last dimension, got "
                         f"{k.shape} and {v.shape}")


def _query_groups(q, k):
    """Query heads per key/value head: 1 but for grouped-query attention."""
    if q.ndim < 3 or k.ndim < 3 or q.shape[-3] == k.shape[-3]:
        return 1
    heads_q, heads_kv = q.shape[-3], k.shape[-3]
    if heads_q % heads_kv:
        raise ValueError(f"the {heads_q} query heads are not a multiple of the "
                         f"{heads_kv} key/value heads")
    return heads_q // heads_kv


def _group_heads(x, groups):
    """(..., Hq, L, D) -> (..., Hkv, groups*L, D): the query heads that share
    a key/value head become rows of one product (a view when x allows it)."""
    if groups == 1:
        return x
    return x.reshape(x.shape[:-3] + (x.shape[-3] // groups, -1, x.shape[-1]))


def _ungroup_heads(x, groups):
    if groups == 1:
        return x
    return x.reshape(x.shape[:-3] + (x.shape[-3] * groups, -1, x.shape[-1]))


def _apply_mask(scores, mask, is_causal):
    if is_causal:
        if mask is not None:
            raise ValueError("give a mask or is_causal=True, not both")
        length_q, length_k = scores.shape[-2:]
        mask = np.tri(length_q, length_k, dtype=bool)
    if mask is None:
        return scores
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return np.where(mask, scores, scores.dtype.type(-np.inf))
    if mask.dtype.kind in "iuOSUM":
        raise TypeError(f"mask must be boolean or floating, got {mask.dtype}")
    return scores + mask.astype(scores.dtype, copy=False)


def _softmax(scores):
    """Softmax over the last axis, the row maximum subtracted first; a row
    that is all -inf (sees no key) gives zeros."""
    row_max = scores.max(axis=-1, keepdims=True)
    row_max[~np.isfinite(row_max)] = 0
    e = np.exp(scores - row_max)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)
