"""Chooses the backend that implements the public API, once, at import.

The compiled C extension is used when it loads; LMUL_SIMD_BACKEND=c or
=numba forces one. Every backend module provides the same names: `name`,
`multiply`, `multiply_k(k)` (and, where implemented, `matmul`, `matmul_k(k)`,
`vecdot`, `vecdot_k(k)`)."""
import importlib
import os

BACKENDS = {"c": "lmul_simd._c_backend"}


def load():
    requested = os.environ.get("LMUL_SIMD_BACKEND", "").strip().lower()
    if requested and requested not in BACKENDS:
        raise ImportError(f"LMUL_SIMD_BACKEND={requested!r}: choose one of "
                          f"{', '.join(sorted(BACKENDS))}")
    return importlib.import_module(BACKENDS[requested or "c"])
