"""How many threads the GEMM (matmul, vecdot) uses. The default is every
online CPU (the C backend reads LMUL_SIMD_NUM_THREADS when set); a gufunc
cannot take a `threads=` keyword, so this setting (or the `num_threads`
context manager) is how a caller chooses. Results are the same bit for bit
for any count: the GEMM splits M and N among threads, never K."""
import operator

from ._api import _backend
from . import _settings
from ._settings import temporarily

__all__ = ["get_num_threads", "set_num_threads", "num_threads"]


def get_num_threads():
    """Threads the GEMM uses at most."""
    return _backend.get_num_threads()


def set_num_threads(n):
    """Use at most n >= 1 threads from now on, process-wide."""
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    with _settings.lock:
        _backend.set_num_threads(n)


def num_threads(n):
    """Context manager: run the block with at most n threads."""
    return temporarily(get_num_threads, set_num_threads, n)
