"""Chooses the backend that implements the public API, once, at import.

The compiled C extension is used when it loads; otherwise the Numba backend,
with one FallbackWarning that says why. LMUL_SIMD_BACKEND=c or =numba forces
one (no fallback then). Every backend module provides the same names: `name`,
`multiply`, `multiply_k(k)`, `matmul`, `matmul_k(k)`, `vecdot`, `vecdot_k(k)`,
`get_num_threads`, `set_num_threads`.

Import errors name what is missing and the pip command that brings it, and
carry no chained traceback: the cause is in the message."""
import importlib
import importlib.util
import os
import warnings

from ._install import pip_install

BACKENDS = {"c": "lmul_simd._c_backend", "numba": "lmul_simd._numba"}
EXTENSION = "lmul_simd._core"


class FallbackWarning(RuntimeWarning):
    """The compiled extension did not load; the Numba backend is in use."""


class NumbaMissing(ImportError):
    """Numba itself is not installed (so the numba extra is the remedy)."""


def get(name):
    """The backend module called `name` (imported on first use). ValueError
    for an unknown name; ImportError, saying what to install, for a backend
    this installation cannot run."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of "
                         f"{', '.join(sorted(BACKENDS))}")
    if name == "c":
        _check_extension_built()
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as error:
        if name == "numba" and (error.name or "").split(".")[0] == "numba":
            raise NumbaMissing(f"Numba is not installed ({error})") from None
        raise ImportError(_cannot_load(name, error)) from None


def _check_extension_built():
    try:
        found = importlib.util.find_spec(EXTENSION) is not None
    except ImportError as error:
        raise ImportError(_cannot_load("c", error)) from None
    if not found:
        raise ImportError(f"the compiled extension {EXTENSION} was not built "
                          f"(this installation has only the Python files)")


def _cannot_load(name, error):
    what = "the compiled extension" if name == "c" else "the Numba backend"
    return f"{what} did not load ({error})"


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
        remedy = (f"; install the numba extra: {pip_install('numba')}"
                  if isinstance(error, NumbaMissing) else "")
        raise ImportError(f"LMUL_SIMD_BACKEND={requested!r}: {error}{remedy}") from None


def _fallback(c_error):
    try:
        backend = get("numba")
    except ImportError as numba_error:
        raise ImportError(
            f"lmul_simd has no backend to run on: {c_error}, and {numba_error}. "
            f"Install the numba extra to run lmul_simd without its extension: "
            f"{pip_install('numba')}; or reinstall lmul_simd where a C compiler "
            f"is available to build the extension.") from None
    warnings.warn(f"lmul_simd: {c_error}; using the Numba backend instead",
                  FallbackWarning, stacklevel=2)
    return backend
