"""The compiled backend: ufuncs whose inner loops are the C library's SIMD
kernels. One ufunc per k is made on first use and cached, since k cannot be
a ufunc keyword."""
import functools

from . import _core

name = "c"

multiply = _core.make_multiply()


@functools.lru_cache(maxsize=None)
def multiply_k(k):
    return _core.make_multiply_k(k)
