"""matmul and vecdot with NumPy's semantics over the Numba GEMM kernel.

Plain Python functions, not gufuncs: numba.guvectorize has no optional core
dimensions, so it cannot state matmul's "(n?,k),(k,m?)->(n?,m?)". This layer
promotes 1-D operands, broadcasts the batch dimensions (a batch of one is
broadcast inside the kernel, without copies) and hands (batch, M, K) and
(batch, K, N) arrays to the compiled kernel: container values, or the bit
patterns of float16, bfloat16 and float8, which the kernel widens as it packs.
Accumulation follows docs/contract.md section 4: float32 for float32 and narrower
inputs, float64 for float64; float16 and bfloat16 results are rounded once,
at the end; float8 results are float32.
"""
import functools
import math

import numpy as np

from ..reference import check_k, container_for, default_k, result_dtype, FLOAT64
from ._bits import WIDENING
from ._gemm import gemm32, gemm64
from ._ufuncs import multiply_k as _multiply_k

_GEMM = {np.dtype(np.float32): gemm32, np.dtype(np.float64): gemm64}


def _gemm(a, b, batch, shapes, fmt, container, k):
    """The kernel's (batch, M, N) container result for a (..., M, K) and
    b (..., K, N) of format fmt; narrow formats go in as their bit patterns."""
    narrow = WIDENING.get(fmt)
    dtype = container.dtype if narrow is None else fmt
    a, b = (_batched(x, batch, shape, dtype) for x, shape in zip((a, b), shapes))
    if narrow is not None:
        bits = np.dtype(f"u{fmt.itemsize}")
        a, b = a.view(bits), b.view(bits)
    return _GEMM[container.dtype](a, b, k, narrow)


def _operands(x1, x2, k, name):
    """The inputs as arrays, their format, its container and the checked k."""
    a, b = np.asarray(x1), np.asarray(x2)
    for index, operand in enumerate((a, b)):
        if operand.ndim == 0:
            raise ValueError(f"{name}: input operand {index} does not have enough "
                             f"dimensions (scalars are not allowed)")
    fmt = np.result_type(a, b)
    container = container_for(fmt)
    k = default_k(fmt) if k is None else check_k(k, container)
    return a, b, fmt, container, k


def _batched(x, batch, core_shape, dtype):
    """x as a (batch, *core_shape) array, or (1, *core_shape) when x has a
    batch of one (the kernel broadcasts it)."""
    own = math.prod(x.shape[:-2])
    if own == 1 and math.prod(batch) != 1:
        return np.ascontiguousarray(x, dtype=dtype).reshape((1,) + core_shape)
    x = np.broadcast_to(x, batch + core_shape)
    return np.ascontiguousarray(x, dtype=dtype).reshape((-1,) + core_shape)


def _deliver(result, fmt, out):
    """The container result in the result format of `fmt`, into `out` if given."""
    with np.errstate(over="ignore"):   # float16 results beyond range become inf
        result = result.astype(result_dtype(fmt), copy=False)
    if out is None:
        return result[()] if result.ndim == 0 else result
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != result.shape:
        raise ValueError(f"out has shape {out.shape}, but the result has shape "
                         f"{result.shape}")
    np.copyto(out, result, casting="same_kind")
    return out


def _matmul(x1, x2, out, k):
    a, b, fmt, container, k = _operands(x1, x2, k, "matmul")
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    (M, K), (K2, N) = a2.shape[-2:], b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: input operand 1 has a mismatch in its core "
                         f"dimension 0 (size {K2} is different from {K})")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    if math.prod(batch + (M, N, K)) == 0:       # nothing to sum: zeros
        result = np.zeros(batch + (M, N), container.dtype)
    else:
        result = _gemm(a2, b2, batch, ((M, K), (K, N)), fmt, container, k)
        result = result.reshape(batch + (M, N))
    if a.ndim == 1:
        result = result[..., 0, :]
    if b.ndim == 1:
        result = result[..., 0]
    return _deliver(result, fmt, out)


def _vecdot(x1, x2, out, k):
    a, b, fmt, container, k = _operands(x1, x2, k, "vecdot")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vecdot: the last dimensions differ "
                         f"({a.shape[-1]} and {b.shape[-1]})")
    products = _multiply_k(k)(a.astype(container.dtype, copy=False),
                              b.astype(container.dtype, copy=False))
    return _deliver(products.sum(axis=-1, dtype=container.dtype), fmt, out)


def _with_k(function, k, name):
    """function(x1, x2, out, k) as the public f(x1, x2, /, out=None)."""
    def bound(x1, x2, /, out=None):
        return function(x1, x2, out, k)
    bound.__name__ = bound.__qualname__ = name
    return bound


def matmul(x1, x2, /, out=None):
    """L-Mul matrix product with np.matmul's semantics (1-D operands, batch
    broadcasting, out=): each product is lmul_simd.multiply's, accumulated in
    float32 (float16, bfloat16, float8 and float32 inputs) or float64 (float64
    inputs); the result's format is multiply's."""
    return _matmul(x1, x2, out, None)


def vecdot(x1, x2, /, out=None):
    """L-Mul dot product over the last axis, with np.vecdot's broadcasting;
    the products are accumulated as in matmul."""
    return _vecdot(x1, x2, out, None)


@functools.lru_cache(maxsize=None)
def matmul_k(k):
    """matmul with the operands rounded to k mantissa bits (1 <= k <= 52;
    k > 23 needs float64 inputs)."""
    bound = _with_k(_matmul, check_k(k, FLOAT64), f"matmul_k{k}")
    bound.__doc__ = matmul.__doc__
    return bound


@functools.lru_cache(maxsize=None)
def vecdot_k(k):
    """vecdot with the operands rounded to k mantissa bits (see matmul_k)."""
    bound = _with_k(_vecdot, check_k(k, FLOAT64), f"vecdot_k{k}")
    bound.__doc__ = vecdot.__doc__
    return bound
