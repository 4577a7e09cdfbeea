"""Chooses the backend that implements the public API, once, at import.

The compiled C extension is used when it loads; otherwise the Numba backend,
with one FallbackWarning that says why. LMUL_SIMD_BACKEND=c or =numba forces
one (no fallback then). Every backend module provides the same names: `name`,
`multiply`, `multiply_k(k)`, and (the C backend once it has its GEMM)
`matmul`, `matmul_k(k)`, `vecdot`, `vecdot_k(k)`."""
import importlib
import os
import warnings

BACKENDS = {"c": "lmul_simd._c_backend", "numba": "lmul_simd._numba"}


class FallbackWarning(RuntimeWarning):
    """The compiled extension did not load; the Numba backend is in use."""


def get(name):
    """The backend module called `name` (imported on first use)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of "
                         f"{', '.join(sorted(BACKENDS))}")
    return importlib.import_module(BACKENDS[name])


def load():
    requested = os.environ.get("LMUL_SIMD_BACKEND", "").strip().lower()
    if requested:
        return _forced(requested)
    try:
        return get("c")
    except ImportError as c_error:
        return _fallback(c_error)


def _forced(requested):
    try:
        return get(requested)
    except (ValueError, ImportError) as error:
        raise ImportError(f"LMUL_SIMD_BACKEND={requested!r}: {error}") from error


def _fallback(c_error):
    try:
        backend = get("numba")
    except ImportError as numba_error:
        raise ImportError(
            f"lmul_simd: the compiled extension did not load ({c_error}) and the "
            f"Numba fallback is not available ({numba_error}); install it with "
            f"`pip install lmul_simd[numba]`, or reinstall lmul_simd where a C "
            f"compiler is available") from c_error
    warnings.warn(f"lmul_simd: the compiled extension did not load ({c_error}); "
                  f"using the Numba backend instead", FallbackWarning, stacklevel=2)
    return backend
