"""The Numba backend: the whole public API compiled by Numba, for machines
where the C extension cannot be built or loaded. Bit-identical to the C
backend elementwise (docs/contract.md section 3); GEMM within docs/contract.md section 4.

multiply and multiply_k(k) are real np.ufuncs (see _ufuncs); matmul and
vecdot are Python functions over a parallel Numba kernel (see _linalg).
Compiled code is cached on disk (cache=True): the first import and the first
call of each ufunc or GEMM type pay the JIT compile time once.
"""
import numba

from ._linalg import matmul, matmul_k, vecdot, vecdot_k
from ._ufuncs import make_multiply, multiply_k

name = "numba"


def get_num_threads():
    return numba.get_num_threads()


def set_num_threads(n):
    """At most n threads for the parallel GEMM (1 <= n <= NUMBA_NUM_THREADS)."""
    numba.set_num_threads(n)

multiply = make_multiply()

__all__ = ["name", "multiply", "multiply_k", "matmul", "matmul_k", "vecdot", "vecdot_k",
           "get_num_threads", "set_num_threads"]
