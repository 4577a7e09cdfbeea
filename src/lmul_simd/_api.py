"""The public API (elementwise L-Mul, matmul, vecdot), the same whichever
backend computes it."""
import operator

from ._backend import load

_backend = load()

backend = _backend.name
multiply = _backend.multiply
matmul = getattr(_backend, "matmul", None)
vecdot = getattr(_backend, "vecdot", None)


def _mantissa_bits(k):
    if isinstance(k, bool):
        raise TypeError("mantissa bits k must be an integer, not bool")
    try:
        return operator.index(k)
    except TypeError:
        raise TypeError(f"mantissa bits k must be an integer, got {k!r}") from None


def _factory(name):
    make = getattr(_backend, name, None)
    if make is None:
        raise NotImplementedError(f"backend {_backend.name!r} has no {name}")
    return make


def multiply_k(k):
    """The L-Mul ufunc with operands rounded to k mantissa bits.

    k may be 1..23 for float16 and float32 inputs (float32 container) and
    1..52 for float64. The ufunc is made once per k and cached.
    """
    return _backend.multiply_k(_mantissa_bits(k))


def matmul_k(k):
    """The L-Mul matmul gufunc with operands rounded to k mantissa bits
    (k as for multiply_k), made once per k and cached."""
    return _factory("matmul_k")(_mantissa_bits(k))


def vecdot_k(k):
    """The L-Mul vecdot gufunc with operands rounded to k mantissa bits
    (k as for multiply_k), made once per k and cached."""
    return _factory("vecdot_k")(_mantissa_bits(k))


def lmul(x1, x2, k=None, **kwargs):
    """L-Mul of x1 and x2: `multiply` when k is None, else `multiply_k(k)`.
    Keyword arguments (out, where, dtype, casting, ...) go to the ufunc."""
    ufunc = multiply if k is None else multiply_k(k)
    return ufunc(x1, x2, **kwargs)
