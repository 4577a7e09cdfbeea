"""The public API (elementwise L-Mul, matmul, vecdot), the same whichever
backend computes it."""
import operator
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from ._backend import load

_backend = load()

backend: str = _backend.name
multiply: np.ufunc = _backend.multiply
# np.ufuncs on the C backend; functions with np.matmul's calling convention on Numba
matmul: Callable[..., Any] = _backend.matmul
vecdot: Callable[..., Any] = _backend.vecdot


def _mantissa_bits(k: int) -> int:
    """k as a Python int; bool and non-integers are a TypeError."""
    if isinstance(k, bool):
        raise TypeError("mantissa bits k must be an integer, not bool")
    try:
        return operator.index(k)
    except TypeError:
        raise TypeError(f"mantissa bits k must be an integer, got {k!r}") from None


def multiply_k(k: int) -> np.ufunc:
    """The L-Mul ufunc with operands rounded to k mantissa bits.

    k may be 1..23 for float16, bfloat16, float8 and float32 inputs (float32
    container) and 1..52 for float64. The ufunc is made once per k and cached.
    """
    return _backend.multiply_k(_mantissa_bits(k))


def matmul_k(k: int) -> Callable[..., Any]:
    """matmul with operands rounded to k mantissa bits (k as for multiply_k),
    made once per k and cached."""
    return _backend.matmul_k(_mantissa_bits(k))


def vecdot_k(k: int) -> Callable[..., Any]:
    """vecdot with operands rounded to k mantissa bits (k as for multiply_k),
    made once per k and cached."""
    return _backend.vecdot_k(_mantissa_bits(k))


def lmul(x1: ArrayLike, x2: ArrayLike, k: int | None = None, **kwargs: Any) -> Any:
    """L-Mul of x1 and x2: `multiply` when k is None, else `multiply_k(k)`.
    Keyword arguments (out, where, dtype, casting, ...) go to the ufunc."""
    ufunc = multiply if k is None else multiply_k(k)
    return ufunc(x1, x2, **kwargs)
