"""Shared fixtures: every API test runs once per implementation, i.e. per
C instruction-set level this machine has, and once on the Numba backend."""
import importlib.util

import pytest

import lmul_simd
from lmul_simd import _backend


def implementations():
    """(backend name, ISA or None) pairs that can run here."""
    found = [("c", isa) for isa in lmul_simd.available_isas()]
    if importlib.util.find_spec("numba") is not None:
        found.append(("numba", None))
    return found


def implementation_id(param):
    return "-".join(filter(None, param))


def activated(name, isa):
    """Yields the backend module with its ISA level active (if it has one)."""
    backend = _backend.get(name)
    if isa is None:
        yield backend
        return
    with lmul_simd.use_isa(isa):
        yield backend


@pytest.fixture(params=implementations(), ids=implementation_id)
def impl(request):
    """A backend module (multiply, multiply_k, matmul, ...), ISA level active."""
    yield from activated(*request.param)


@pytest.fixture(params=[p for p in implementations() if p[0] == "c"],
                ids=implementation_id)
def c_impl(request):
    """The C backend at each ISA level: for what only it has (gufunc `axes=`,
    the GEMM's microkernel statistics, the C API)."""
    yield from activated(*request.param)
