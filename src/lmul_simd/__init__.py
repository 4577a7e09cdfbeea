"""lmul_simd: L-Mul, the multiplication-free floating-point product of
Luo & Sun (2024), as NumPy ufuncs over hand-written AVX2 / AVX-512 kernels
(or, where the compiled extension is missing, over Numba; see `backend`).

    >>> import numpy as np, lmul_simd
    >>> lmul_simd.multiply(np.float32([1.5, 3.0]), np.float32(2.0))
    array([3.125, 6.25 ], dtype=float32)
    >>> lmul_simd.multiply_k(3)(np.float32(1.1), np.float32(1.1))  # 3 mantissa bits
    np.float32(1.375)
    >>> lmul_simd.matmul(np.float32([[1.5, 3.0]]), np.float32([[2.0], [1.0]]))
    array([[6.25]], dtype=float32)
"""
import os

from ._api import backend, lmul, matmul, matmul_k, multiply, multiply_k, vecdot, vecdot_k
from ._backend import FallbackWarning
from ._isa import available_isas, best_isa, get_isa, set_isa, use_isa
from ._threads import get_num_threads, num_threads, set_num_threads
from . import reference
from .attention import attention

__version__ = "0.1.0"

__all__ = ["multiply", "multiply_k", "lmul", "matmul", "matmul_k", "vecdot", "vecdot_k",
           "backend", "FallbackWarning", "get_isa", "set_isa", "best_isa",
           "available_isas", "use_isa", "get_num_threads", "set_num_threads", "num_threads", "gemm_stats",
           "reset_gemm_stats", "reference", "attention", "get_include", "get_library_dir",
           "__version__"]


def get_include():
    """Directory holding lmul_simd.h, for C and Cython callers."""
    return os.path.join(os.path.dirname(__file__), "include")


def get_library_dir():
    """Directory holding the shared library liblmul_simd (link with -llmul_simd)."""
    return os.path.dirname(os.path.abspath(__file__))


def gemm_stats():
    """{'fast': n, 'zeros': z, 'safe': m}: register tiles the C GEMM computed
    with the one-add microkernel, with the zero-tolerant one (exact zeros
    present, no product can under- or overflow) and with the safe one since
    the last reset."""
    from . import _core
    return _core.gemm_stats()


def reset_gemm_stats():
    from . import _core
    _core.reset_gemm_stats()
