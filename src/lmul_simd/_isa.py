"""Which instruction set the C kernels use. The choice itself is made in one
place, the C library's dispatch; this module only asks and tells it."""
import contextlib
import os

from . import _core

__all__ = ["get_isa", "set_isa", "best_isa", "available_isas", "use_isa"]


def get_isa():
    """The instruction set in use: 'scalar', 'avx2' or 'avx512'."""
    return _core.get_isa()


def best_isa():
    """The best instruction set this CPU and OS support."""
    return _core.best_isa()


def available_isas():
    """Every level this machine can run, lowest first."""
    best = _core.ISA_NAMES.index(_core.best_isa())
    return list(_core.ISA_NAMES[:best + 1])


def set_isa(name):
    """Use instruction set `name` from now on, process-wide. Raises ValueError
    for an unknown name and RuntimeError for a level the CPU lacks."""
    _core.set_isa(name)


@contextlib.contextmanager
def use_isa(name):
    """Context manager: run the block with instruction set `name`."""
    previous = get_isa()
    set_isa(name)
    try:
        yield
    finally:
        set_isa(previous)


def _apply_environment():
    requested = os.environ.get("LMUL_SIMD_ISA")
    if requested and _core.isa_env_error() is not None:
        try:
            _core.set_isa(requested)
        except (ValueError, RuntimeError) as error:
            raise ImportError(f"LMUL_SIMD_ISA={requested!r}: {error}") from None


_apply_environment()
