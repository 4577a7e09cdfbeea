"""How many threads the C GEMM (matmul, vecdot) uses. The default is every
online CPU, or LMUL_SIMD_NUM_THREADS when set; a gufunc cannot take a
`threads=` keyword, so this setting (or the `num_threads` context manager)
is how a caller chooses. Results are the same bit for bit for any count."""
import contextlib

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "num_threads"]


def get_num_threads():
    """Threads the GEMM uses at most."""
    return _core.get_num_threads()


def set_num_threads(n):
    """Use at most n >= 1 threads from now on, process-wide."""
    _core.set_num_threads(n)


@contextlib.contextmanager
def num_threads(n):
    """Context manager: run the block with at most n threads."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
