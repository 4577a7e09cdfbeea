"""L-Mul matrix and dot products of Dask arrays (docs/contract.md section 7).

    >>> import dask.array as da, lmul_simd.dask
    >>> A = da.ones((4096, 4096), dtype="float32", chunks=1024)
    >>> C = lmul_simd.dask.matmul(A, A)          # lazy; C.compute() or C.persist()

Each pair of blocks is multiplied by lmul_simd.matmul (the in-memory blocked
GEMM) into a partial product in the container (float32 for float32 and
narrower formats, float64 for float64); Dask then sums the partial products
of the chunks of K in a binary tree, in the container, and the sum is cast
once to the result format (float16/bfloat16 keep their format, float8 gives
float32), as lmul_simd.matmul does in memory.

Importing this module also makes ``lmul_simd.matmul(A, B)`` (and vecdot and
their _k forms) on Dask arrays call the functions here: the compiled matmul
is a NumPy gufunc with optional core dimensions, which Dask's own gufunc
support cannot parse.
"""
from __future__ import annotations

import functools
import math
import numbers

import dask.array as da
import numpy as np

import lmul_simd
from lmul_simd.reference import check_k, container_for, default_k, result_dtype

__all__ = ["matmul", "matmul_k", "vecdot", "vecdot_k", "SPLIT_EVERY"]

SPLIT_EVERY = 2  # partial sums meet in pairs: ceil(log2(chunks of K)) additions


def matmul(x1, x2):
    """L-Mul matrix product of Dask arrays, as lmul_simd.matmul: NumPy's
    matmul rules for 1-D operands and broadcast batch dimensions; the result
    format of lmul_simd.matmul. NumPy arrays are taken as one chunk each.

    When the chunks of A's last axis and B's second-to-last axis differ, both
    are rechunked to their common refinement (as dask.array.matmul does), so
    the product may have more chunks along K than either operand.
    """
    return _matmul(x1, x2, None)


def vecdot(x1, x2):
    """L-Mul dot products over the last axis of Dask arrays, as
    lmul_simd.vecdot (broadcasting the other axes). Chunks of the last axis
    that differ between the operands are rechunked to their common refinement.
    """
    return _vecdot(x1, x2, None)


def matmul_k(k):
    """matmul with both operands rounded to k mantissa bits first (k as for
    lmul_simd.matmul_k); made once per k and cached."""
    lmul_simd.matmul_k(k)  # the in-memory factory checks k
    return _with_k("matmul", int(k))


def vecdot_k(k):
    """vecdot with both operands rounded to k mantissa bits first (k as for
    lmul_simd.vecdot_k); made once per k and cached."""
    lmul_simd.vecdot_k(k)
    return _with_k("vecdot", int(k))


@functools.lru_cache(maxsize=None)
def _with_k(name, k):
    """lmul_simd.dask's `name` (matmul or vecdot) with k, made once per k."""
    compute = {"matmul": _matmul, "vecdot": _vecdot}[name]

    def chunked_k(x1, x2):
        return compute(x1, x2, k)
    chunked_k.__name__ = chunked_k.__qualname__ = f"{name}_k{k}"
    chunked_k.__doc__ = f"lmul_simd.dask.{name} with operands rounded to k={k} bits."
    return chunked_k


# --- the graph -------------------------------------------------------------

def _matmul(x1, x2, k):
    a, b = _operands(x1, x2, "matmul")
    fmt, k = _format(a, b, k)
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"lmul_simd.dask.matmul: the last axis of x1 ({a2.shape[-1]}) "
                         f"does not match the second-to-last axis of x2 ({b2.shape[-2]})")
    _broadcast_batch(a2.shape[:-2], b2.shape[:-2], "matmul")
    a2, b2 = _same_ndim(a2, b2)
    nd = a2.ndim
    # out index: batch..., M, (K chunk), N; the K index is kept, one per block
    partial = _partial_products(_block_matmul, tuple(range(nd + 1)), a2, tuple(range(nd)),
                                b2, tuple(range(nd - 2)) + (nd - 1, nd), nd - 1, fmt, k)
    total = _sum_over_chunks(partial, nd - 1)
    if a.ndim == 1:
        total = total[..., 0, :]
    if b.ndim == 1:
        total = total[..., 0]
    return _to_result_format(total, fmt)


def _vecdot(x1, x2, k):
    a, b = _operands(x1, x2, "vecdot")
    fmt, k = _format(a, b, k)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"lmul_simd.dask.vecdot: the last axes of x1 ({a.shape[-1]}) "
                         f"and x2 ({b.shape[-1]}) differ")
    _broadcast_batch(a.shape[:-1], b.shape[:-1], "vecdot")
    a, b = _same_ndim(a, b)
    index = tuple(range(a.ndim))
    partial = _partial_products(_block_vecdot, index, a, index, b, index,
                                a.ndim - 1, fmt, k)
    return _to_result_format(_sum_over_chunks(partial, a.ndim - 1), fmt)


def _operands(x1, x2, name):
    arrays = tuple(da.asarray(x) for x in (x1, x2))
    for index, x in enumerate(arrays):
        if x.ndim == 0:
            raise ValueError(f"lmul_simd.dask.{name}: operand {index} is a scalar "
                             f"(at least one dimension is needed)")
        if any(math.isnan(size) for size in x.shape):
            raise ValueError(f"lmul_simd.dask.{name}: operand {index} has unknown chunk "
                             f"sizes {x.chunks}; call compute_chunk_sizes() on it first")
    return arrays


def _format(a, b, k):
    """The format the product is computed in (NumPy's promotion, as the
    in-memory matmul) and the checked k."""
    fmt = np.result_type(a.dtype, b.dtype)
    container = container_for(fmt)
    return fmt, default_k(fmt) if k is None else check_k(k, container)


def _broadcast_batch(shape1, shape2, name):
    try:
        return np.broadcast_shapes(shape1, shape2)
    except ValueError:
        raise ValueError(f"lmul_simd.dask.{name}: the batch dimensions {shape1} and "
                         f"{shape2} do not broadcast") from None


def _same_ndim(a, b):
    """a and b with leading axes of length one added to the shorter one."""
    nd = max(a.ndim, b.ndim)
    return tuple(x[(np.newaxis,) * (nd - x.ndim)] for x in (a, b))


def _partial_products(block_product, out_index, a, a_index, b, b_index, k_index, fmt, k):
    """One container partial product per pair of blocks; blockwise rechunks
    the K axes of a and b to their common refinement when they differ."""
    container = container_for(fmt).dtype
    return da.blockwise(block_product, out_index, a, a_index, b, b_index,
                        adjust_chunks={k_index: 1},
                        meta=np.empty((0,) * len(out_index), container),
                        fmt=fmt, k=k)


def _sum_over_chunks(partial, axis):
    """Sum of the partial products along `axis` (one per chunk of K), added
    in pairs by a Dask tree reduction, in the container."""
    if partial.numblocks[axis] == 1:
        return partial.squeeze(axis)
    return da.reduction(partial, _pass_block, _add_blocks, axis=axis,
                        combine=_add_blocks, keepdims=False,
                        dtype=partial.dtype, split_every=SPLIT_EVERY,
                        concatenate=False, meta=np.empty((0,) * (partial.ndim - 1),
                                                          partial.dtype),
                        name="lmul-sum-chunks")


def _to_result_format(total, fmt):
    result = result_dtype(fmt)
    if total.dtype == result:
        return total
    return total.map_blocks(_cast_block, dtype=result, result=result)


# --- the tasks (module-level, so that workers unpickle them by name) -------

def _block_matmul(a, b, fmt, k):
    return _lmul_container(lmul_simd.matmul_k(k), a, b, fmt)[..., np.newaxis, :]


def _block_vecdot(a, b, fmt, k):
    return _lmul_container(lmul_simd.vecdot_k(k), a, b, fmt)[..., np.newaxis]


def _lmul_container(gufunc, a, b, fmt):
    """gufunc's result on the blocks in the container: a float16 or bfloat16
    block is widened to float32 first (exact: its values and so its L-Mul
    products are unchanged), so that the partial sum is not rounded to the
    narrow format."""
    container = container_for(fmt).dtype
    if result_dtype(fmt) != container:
        a, b = a.astype(fmt).astype(container), b.astype(fmt).astype(container)
    else:
        a, b = a.astype(fmt, copy=False), b.astype(fmt, copy=False)
    return gufunc(a, b)


def _pass_block(block, axis=None, keepdims=True, **_):
    return block


def _add_blocks(blocks, axis=None, keepdims=True, **_):
    """The sum of the partial products in `blocks` (a list along the reduced
    axis, or one block), in their order. np.add reports overflow and invalid
    (inf - inf) as the in-memory GEMM does (docs/contract.md section 6)."""
    if isinstance(blocks, list):
        total = functools.reduce(np.add, blocks)
    else:
        total = blocks
    return total if keepdims else total.squeeze(axis)


def _cast_block(block, result):
    with np.errstate(over="ignore"):  # float16 results beyond range become inf
        return block.astype(result)


# --- lmul_simd's ufuncs called on Dask arrays ------------------------------

def _lmul_simd_ufunc(ufunc):
    """(base, k) when ufunc is lmul_simd's multiply, matmul or vecdot (k None)
    or one of their _k(k) forms; None for any other ufunc."""
    base, _, k = getattr(ufunc, "__name__", "").partition("_k")
    if base not in ("multiply", "matmul", "vecdot"):
        return None
    if not k:
        return (base, None) if ufunc is getattr(lmul_simd, base) else None
    try:
        return (base, int(k)) if ufunc is getattr(lmul_simd, base + "_k")(int(k)) else None
    except (TypeError, ValueError):
        return None


def _chunked(base, k):
    """The function here that computes lmul_simd's gufunc `base` with k."""
    if base == "matmul":
        return matmul if k is None else matmul_k(k)
    return vecdot if k is None else vecdot_k(k)


def _route_lmul_simd_ufuncs(array_type):
    """Make array_type.__array_ufunc__ hand lmul_simd's matmul/vecdot gufuncs
    to the functions here (Dask cannot parse matmul's signature, and its
    vecdot needs K in one chunk), and surface the real error when Dask cannot
    build lmul_simd's elementwise ufunc (e.g. multiply_k(30) on float32);
    every other call goes on as before."""
    original = array_type.__array_ufunc__
    if getattr(original, "routes_lmul_simd", False):
        return

    @functools.wraps(original)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = method == "__call__" and all(_plain_operand(x) for x in inputs)
        found = _lmul_simd_ufunc(ufunc) if plain else None
        if found is None:
            return original(self, ufunc, method, *inputs, **kwargs)
        if found[0] == "multiply":
            result = original(self, ufunc, method, *inputs, **kwargs)
            if result is NotImplemented:   # Dask's dtype inference failed: say why
                ufunc(*(np.ones(1, x.dtype) if hasattr(x, "dtype") else x for x in inputs))
            return result
        chunked = _chunked(*found)
        if kwargs:
            raise TypeError(f"lmul_simd.{ufunc.__name__} on Dask arrays is "
                            f"lmul_simd.dask.{chunked.__name__}, which takes no "
                            f"keyword arguments (got {', '.join(kwargs)})")
        return chunked(*inputs)

    __array_ufunc__.routes_lmul_simd = True
    array_type.__array_ufunc__ = __array_ufunc__


def _plain_operand(x):
    return isinstance(x, (da.Array, np.ndarray, np.generic, numbers.Number))


_route_lmul_simd_ufuncs(da.Array)
