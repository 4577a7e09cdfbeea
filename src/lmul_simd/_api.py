"""The public API (elementwise L-Mul, matmul, vecdot), the same whichever
backend computes it."""
import operator
import re
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
    return _by_name(_backend.multiply_k(_mantissa_bits(k)))


def matmul_k(k: int) -> Callable[..., Any]:
    """matmul with operands rounded to k mantissa bits (k as for multiply_k),
    made once per k and cached."""
    return _by_name(_backend.matmul_k(_mantissa_bits(k)))


def vecdot_k(k: int) -> Callable[..., Any]:
    """vecdot with operands rounded to k mantissa bits (k as for multiply_k),
    made once per k and cached."""
    return _by_name(_backend.vecdot_k(_mantissa_bits(k)))


def _by_name(function):
    """A _k ufunc (or the Numba backend's _k function) that pickle, and so
    Dask sending it to its workers, finds by its name: lmul_simd._api.multiply_k3
    and so on (see __getattr__)."""
    function.__module__ = __name__
    return function


def __getattr__(name):
    match = re.fullmatch(r"(multiply|matmul|vecdot)_k(\d+)", name)
    try:
        return globals()[match[1] + "_k"](int(match[2]))
    except (TypeError, ValueError):  # no match, or k out of range
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def lmul(x1: ArrayLike, x2: ArrayLike, k: int | None = None, **kwargs: Any) -> Any:
    """L-Mul of x1 and x2: `multiply` when k is None, else `multiply_k(k)`.
    Keyword arguments (out, where, dtype, casting, ...) go to the ufunc."""
    ufunc = multiply if k is None else multiply_k(k)
    return ufunc(x1, x2, **kwargs)
