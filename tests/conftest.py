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


@pytest.fixture(params=implementations(), ids=lambda p: "-".join(filter(None, p)))
def impl(request):
    """A backend module (multiply, multiply_k, ...) with its ISA level active."""
    name, isa = request.param
    backend = _backend.get(name)
    if isa is None:
        yield backend
        return
    with lmul_simd.use_isa(isa):
        yield backend
