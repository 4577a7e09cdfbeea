"""lmul_mgemm_strided and lmul_dot_batched through the public header (ctypes):
results as the gufuncs', status codes for bad arguments, nothing written
outside the output or on an error."""
import ctypes
from pathlib import Path

import numpy as np
import pytest

import lmul_simd

ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")

LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG = 0, -1, -2
F32, F64, F16, BF16, E4M3, E5M2 = range(6)   # lmul_format
I64, PTR, INT, FLOAT = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_float


@pytest.fixture(scope="module")
def lib():
    path = next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))
    library = ctypes.CDLL(str(path))
    library.lmul_mgemm_strided.restype = INT
    library.lmul_mgemm_strided.argtypes = [INT, INT, I64, I64, I64, FLOAT, PTR, I64, I64,
                                           PTR, I64, I64, FLOAT, PTR, I64, I64, INT]
    library.lmul_dot_batched.restype = INT
    library.lmul_dot_batched.argtypes = [INT, INT, I64, I64, PTR, I64, I64, PTR, I64, I64,
                                         PTR, I64, INT]
    return library


def mgemm(lib, fa, a, fb, b, c, alpha=1.0, beta=0.0, k=23):
    m, kd = a.shape
    n = b.shape[1]
    return lib.lmul_mgemm_strided(fa, fb, m, n, kd, alpha, a.ctypes.data, *a.strides,
                                  b.ctypes.data, *b.strides, beta, c.ctypes.data,
                                  *c.strides, k)


def test_mgemm_matches_gufunc_with_alpha_beta(lib):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 300)).astype(np.float32)
    b = rng.standard_normal((300, 40)).astype(ml_dtypes.float8_e5m2)
    c0 = rng.standard_normal((3, 40)).astype(np.float32)
    widened = np.ascontiguousarray(b.astype(np.float32))
    c, expected = c0.copy(), c0.copy()
    assert mgemm(lib, F32, a, E5M2, b, c, alpha=2.0, beta=0.5) == LMUL_OK
    assert mgemm(lib, F32, a, F32, widened, expected, alpha=2.0, beta=0.5) == LMUL_OK
    np.testing.assert_array_equal(c.view(np.uint32), expected.view(np.uint32))
    c[:] = 0
    assert mgemm(lib, F32, a, E5M2, b, c) == LMUL_OK
    np.testing.assert_array_equal(c.view(np.uint32),
                                  lmul_simd.matmul(a, widened).view(np.uint32))


def test_mgemm_bad_arguments(lib):
    a = np.ones((2, 8), np.float32)
    b = np.ones((8, 3), ml_dtypes.bfloat16)
    c = np.full((2, 3), 7.0, np.float32)
    assert mgemm(lib, F32, a, 9, b, c) == LMUL_ERR_ARG           # unknown format
    assert mgemm(lib, -1, a, BF16, b, c) == LMUL_ERR_ARG
    assert mgemm(lib, F32, a, BF16, b, c, k=24) == LMUL_ERR_K
    assert mgemm(lib, F32, a, BF16, b, c, k=0) == LMUL_ERR_K
    assert lib.lmul_mgemm_strided(F32, BF16, -1, 3, 8, 1.0, a.ctypes.data, 32, 4,
                                  b.ctypes.data, 6, 2, 0.0, c.ctypes.data, 12, 4,
                                  23) == LMUL_ERR_ARG
    assert lib.lmul_mgemm_strided(F32, BF16, 2, 3, 8, 1.0, a.ctypes.data, 32, 4,
                                  b.ctypes.data, 6, 2, 0.0, c.ctypes.data, 0, 4,
                                  23) == LMUL_ERR_ARG             # two rows of C at one place
    assert (c == 7.0).all()                                       # nothing written


def test_dot_batched(lib):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((10, 600)).astype(np.float32)
    y = rng.standard_normal((10, 600)).astype(ml_dtypes.bfloat16)
    r = np.full(12, np.nan, np.float32)                           # 2 guard elements
    assert lib.lmul_dot_batched(F32, BF16, 10, 600, x.ctypes.data, 2400, 4,
                                y.ctypes.data, 1200, 2, r.ctypes.data, 4, 23) == LMUL_OK
    np.testing.assert_array_equal(r[:10].view(np.uint32),
                                  lmul_simd.vecdot(x, y.astype(np.float32)).view(np.uint32))
    assert np.isnan(r[10:]).all()
    bad = lib.lmul_dot_batched
    assert bad(F32, 7, 10, 600, x.ctypes.data, 2400, 4, y.ctypes.data, 1200, 2,
               r.ctypes.data, 4, 23) == LMUL_ERR_ARG
    assert bad(F32, BF16, -1, 600, x.ctypes.data, 2400, 4, y.ctypes.data, 1200, 2,
               r.ctypes.data, 4, 23) == LMUL_ERR_ARG
    assert bad(F32, BF16, 10, 600, x.ctypes.data, 2400, 4, y.ctypes.data, 1200, 2,
               r.ctypes.data, 0, 23) == LMUL_ERR_ARG              # results at one address
    assert bad(F32, BF16, 10, 600, x.ctypes.data, 2400, 4, y.ctypes.data, 1200, 2,
               r.ctypes.data, 4, 30) == LMUL_ERR_K
    assert bad(F32, BF16, 10, 600, None, 2400, 4, y.ctypes.data, 1200, 2,
               r.ctypes.data, 4, 23) == LMUL_ERR_ARG
