"""Chooses the backend that implements the public API, once, at import.

The compiled C extension is used when it loads; LMUL_SIMD_BACKEND=c or
=numba forces one. Every backend module provides the same names: `name`,
`multiply`, `multiply_k(k)` (and, where implemented, `matmul`, `matmul_k(k)`,
`vecdot`, `vecdot_k(k)`)."""
import importlib
import os

BACKENDS = {"c": "lmul_simd._c_backend"}


def get(name):
    """The backend module called `name` (imported on first use)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of "
                         f"{', '.join(sorted(BACKENDS))}")
    return importlib.import_module(BACKENDS[name])


def load():
    requested = os.environ.get("LMUL_SIMD_BACKEND", "").strip().lower()
    try:
        return get(requested or "c")
    except ValueError as error:
        raise ImportError(f"LMUL_SIMD_BACKEND={requested!r}: {error}") from None
