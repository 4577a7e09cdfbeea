"""The public API of whichever backend is loaded (LMUL_SIMD_BACKEND picks)."""
import numpy as np
import pytest

import lmul_simd
from lmul_simd import _backend, reference


def test_backend_is_reported():
    assert lmul_simd.backend in _backend.BACKENDS
    assert _backend.get(lmul_simd.backend).multiply is lmul_simd.multiply


@pytest.mark.parametrize("k", [True, 2.0, "3", None])
def test_k_must_be_an_integer(k):
    with pytest.raises(TypeError):
        lmul_simd.multiply_k(k)


def test_lmul_picks_the_ufunc_by_k():
    x, y = np.float32([1.1, -2.5, 3.0]), np.float32([0.3, 7.0, -1.0])
    assert np.array_equal(lmul_simd.lmul(x, y), reference.lmul(x, y))
    assert np.array_equal(lmul_simd.lmul(x, y, k=np.int64(3)), reference.lmul(x, y, 3))
    out = np.empty_like(x)
    assert lmul_simd.lmul(x, y, out=out) is out
    with pytest.raises(ValueError, match="out of range"):
        lmul_simd.lmul(x, y, k=0)


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="unknown backend"):
        _backend.get("fortran")
