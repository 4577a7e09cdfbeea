"""L-Mul on NVIDIA GPUs through numba.cuda (optional: ``pip install .[cuda]``).

    >>> from lmul_simd import cuda as lcuda
    >>> lcuda.is_available()                      # doctest: +SKIP
    True
    >>> lcuda.multiply(x, y, k=4)                 # doctest: +SKIP
    >>> lcuda.matmul(a, b)                        # doctest: +SKIP

Host NumPy arrays are copied to the device and the result copied back; device
arrays (numba, CuPy, PyTorch: anything with ``__cuda_array_interface__``)
stay on the device and the result is a numba device array there.

Importing this module needs neither numba nor a GPU: the kernels are built on
the first call, which raises :class:`CudaUnavailableError` when they cannot be.
Set ``NUMBA_ENABLE_CUDASIM=1`` before numba is imported to run everything on
numba's CUDA simulator (slow; small sizes only).
"""
from lmul_simd._install import pip_install

__all__ = ["CudaUnavailableError", "is_available", "unavailable_reason",
           "multiply", "matmul"]


class CudaUnavailableError(RuntimeError):
    """numba.cuda is missing, or it finds no usable GPU (and no simulator)."""


def _numba_cuda_numpy_compat():
    """numba-cuda up to 0.30 registers an overload of np.row_stack when it
    builds its typing context, and NumPy 2.5 removed that name (an alias of
    np.vstack, deprecated since NumPy 2.0): without it no kernel compiles.
    Put the alias back, only where it is missing."""
    import numpy as np
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


def unavailable_reason():
    """Why the CUDA path cannot run here, or None when it can."""
    _numba_cuda_numpy_compat()
    try:
        from numba import cuda
    except ImportError as exc:
        return f"numba.cuda is not installed ({exc}); {pip_install('cuda')}"
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # a broken driver or toolkit raises here
        return f"numba.cuda finds no usable GPU: {exc}"
    return "numba.cuda finds no CUDA GPU (set NUMBA_ENABLE_CUDASIM=1 to simulate)"


def is_available():
    """True when the kernels can run: a CUDA GPU, or the numba simulator."""
    return unavailable_reason() is None


def _implementation():
    reason = unavailable_reason()
    if reason is not None:
        raise CudaUnavailableError(reason)
    from . import _api as api  # numba is imported here, not before
    return api


def multiply(x, y, k=None, out=None):
    """Elementwise L-Mul of x and y with k mantissa bits, bit-exact to docs/contract.md.

    float32 and float64 anywhere; float16 (computed in the float32 container)
    for host arrays. Host inputs broadcast; device inputs must have one shape
    and be C-contiguous. `out`, if given, receives the result and is returned.
    """
    return _implementation().multiply(x, y, k=k, out=out)


def matmul(a, b, k=None):
    """sum_k lmul(a[..., i, k], b[..., k, j]) accumulated in the container
    (float32, or float64 for float64 inputs), within docs/contract.md section 4's bound.

    a is (M, K) or (batch, M, K), b is (K, N) or (batch, K, N).
    """
    return _implementation().matmul(a, b, k=k)
