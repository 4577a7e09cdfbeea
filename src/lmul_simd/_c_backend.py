"""The compiled backend: ufuncs whose inner loops are the C library's SIMD
kernels (elementwise, and the blocked GEMM for the matmul and vecdot
gufuncs). One ufunc per k is made on first use and cached, since k cannot be
a ufunc keyword."""
import functools

from . import _core

name = "c"

multiply = _core.make_multiply()


@functools.lru_cache(maxsize=None)
def multiply_k(k):
    return _core.make_multiply_k(k)


matmul = _core.make_matmul()
vecdot = _core.make_vecdot()


@functools.lru_cache(maxsize=None)
def matmul_k(k):
    return _core.make_matmul_k(k)


@functools.lru_cache(maxsize=None)
def vecdot_k(k):
    return _core.make_vecdot_k(k)


get_num_threads = _core.get_num_threads
set_num_threads = _core.set_num_threads
