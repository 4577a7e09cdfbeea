"""The public elementwise API, the same whichever backend computes it."""
import operator

from ._backend import load

_backend = load()

backend = _backend.name
multiply = _backend.multiply


def multiply_k(k):
    """The L-Mul ufunc with operands rounded to k mantissa bits.

    k may be 1..23 for float16 and float32 inputs (float32 container) and
    1..52 for float64. The ufunc is made once per k and cached.
    """
    if isinstance(k, bool):
        raise TypeError("mantissa bits k must be an integer, not bool")
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"mantissa bits k must be an integer, got {k!r}") from None
    return _backend.multiply_k(k)


def lmul(x1, x2, k=None, **kwargs):
    """L-Mul of x1 and x2: `multiply` when k is None, else `multiply_k(k)`.
    Keyword arguments (out, where, dtype, casting, ...) go to the ufunc."""
    ufunc = multiply if k is None else multiply_k(k)
    return ufunc(x1, x2, **kwargs)
