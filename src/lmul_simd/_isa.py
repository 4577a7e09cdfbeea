"""Which instruction set the C kernels use. The choice itself is made in one
place, the C library's dispatch; this module only asks and tells it.

Without the compiled extension (the Numba backend, where LLVM picks the
instructions) there is nothing to control: get_isa() and best_isa() return
None, available_isas() is empty, and set_isa() / use_isa() raise RuntimeError.
"""
import os
import warnings

from . import _settings
from ._settings import temporarily

try:
    from . import _core
    _CORE_ERROR = None
except ImportError as error:   # the Numba backend is in use
    _core = None
    _CORE_ERROR = error

__all__ = ["get_isa", "set_isa", "best_isa", "available_isas", "use_isa"]


def get_isa():
    """The instruction set of the C kernels: 'scalar', 'avx2' or 'avx512';
    None without the compiled extension."""
    return None if _core is None else _core.get_isa()


def best_isa():
    """The best instruction set this CPU and OS support; None without the
    compiled extension."""
    return None if _core is None else _core.best_isa()


def available_isas():
    """Every level this machine can run, lowest first; empty without the
    compiled extension."""
    if _core is None:
        return []
    best = _core.ISA_NAMES.index(_core.best_isa())
    return list(_core.ISA_NAMES[:best + 1])


def set_isa(name):
    """Use instruction set `name` from now on, process-wide. Raises ValueError
    for an unknown name, and RuntimeError for a level the CPU lacks or when
    the compiled extension did not load."""
    if _core is None:
        raise RuntimeError(f"instruction-set control needs the compiled C extension, "
                           f"which did not load ({_CORE_ERROR}); the Numba backend "
                           f"leaves the choice of instructions to LLVM")
    with _settings.lock:
        _core.set_isa(name)


def use_isa(name):
    """Context manager: run the block with instruction set `name`."""
    return temporarily(get_isa, set_isa, name)


def _apply_environment():
    """LMUL_SIMD_ISA, as the C library applied it at load: an unknown name is
    an ImportError; a level this CPU lacks (the variable may be shared by
    several machines) a RuntimeWarning, the best level available in use."""
    requested = os.environ.get("LMUL_SIMD_ISA")
    if not requested or _core.isa_env_error() is None:
        return
    if requested not in _core.ISA_NAMES:
        raise ImportError(f"LMUL_SIMD_ISA={requested!r}: unknown instruction set; "
                          f"choose one of {', '.join(_core.ISA_NAMES)}")
    warnings.warn(f"LMUL_SIMD_ISA={requested!r}: this CPU does not support it; "
                  f"using {_core.get_isa()!r}, the best it has", RuntimeWarning,
                  stacklevel=2)


if _core is not None:
    _apply_environment()
