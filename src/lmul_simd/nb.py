"""Scalar L-Mul for your own Numba code: @njit functions that any @njit,
@vectorize or @guvectorize function can call (needs `pip install lmul_simd[numba]`).

    from numba import vectorize
    from lmul_simd.nb import lmul32

    @vectorize(["float32(float32, float32)"])
    def lmul_relu(x, y):
        return max(lmul32(x, y, 4), 0.0)

lmul32(x, y, k=23) computes in the float32 container (k = 1..23), lmul64(x, y,
k=52) in the float64 container (k = 1..52); the bits are those of
lmul_simd.multiply_k(k) (docs/contract.md section 3). A k out of range is a ValueError.
"""
from numba import njit

from ._numba._bits import lmul_float32, lmul_float64

__all__ = ["lmul32", "lmul64"]


@njit(cache=True)
def lmul32(x, y, k=23):
    """L-Mul of two float32 values with operands rounded to k mantissa bits."""
    if not 1 <= k <= 23:
        raise ValueError("lmul32: mantissa bits k must be in 1..23")
    return lmul_float32(x, y, k)


@njit(cache=True)
def lmul64(x, y, k=52):
    """L-Mul of two float64 values with operands rounded to k mantissa bits."""
    if not 1 <= k <= 52:
        raise ValueError("lmul64: mantissa bits k must be in 1..52")
    return lmul_float64(x, y, k)
