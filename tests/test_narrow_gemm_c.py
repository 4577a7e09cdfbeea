"""The C backend's matmul and vecdot (and their every-k forms) on bfloat16,
float8_e4m3fn and float8_e5m2 (ml_dtypes), and their C API: products exact in
the float32 container, summed in float32, bfloat16 -> bfloat16 (one rounding
at the end) and float8 -> float32, within the bound of docs/contract.md section 4,
on every ISA level."""
import ctypes
import os

import ml_dtypes
import numpy as np
import pytest

import lmul_simd
from lmul_simd import reference

BF16, E4M3, E5M2 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2
FORMATS = [BF16, E4M3, E5M2]
OWN_K = {np.dtype(BF16): 7, np.dtype(E4M3): 3, np.dtype(E5M2): 2}
U = 2.0 ** -24                   # float32 accumulation (docs/contract.md section 4)
BF16_HALF_ULP = 2.0 ** -8        # relative: the one final rounding to bfloat16
BF16_HALF_SUBNORMAL = 2.0 ** -134
# around the register tiles (MR 4..32, NR 4..12), KC (256..512) and MC (128..384):
# m, n, kdim
SHAPES = [(1, 1, 1), (17, 13, 33), (33, 7, 300), (5, 40, 257), (400, 9, 20)]


def fmt_id(dtype):
    return np.dtype(dtype).name


def random(shape, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(shape)).astype(dtype)


def assert_gemm(got, a, b, k=None, plus=None):
    """|C - S| <= (K + 2) u sum|p| where S is finite, u = 2^-24; the same NaNs
    and infinities elsewhere. A bfloat16 C is that float32 sum rounded once
    more: half a bfloat16 ulp of it (or of the smallest subnormal) on top.
    `plus` (beta * old C, exact) is one more term of the sum."""
    a, b, got = np.asarray(a), np.asarray(b), np.asarray(got)
    assert got.dtype == reference.result_dtype(a.dtype)
    with np.errstate(invalid="ignore", over="ignore"):   # inf - inf in the sums
        s, magnitudes = reference.exact_products_sum(a, b, k)
    assert got.shape == s.shape
    terms = a.shape[-1]
    if plus is not None:
        s, magnitudes, terms = s + plus, magnitudes + np.abs(plus), terms + 1
    c = got.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(s))
    np.testing.assert_array_equal(c[np.isinf(s)], s[np.isinf(s)])
    finite = np.isfinite(s)
    bound = (terms + 2) * U * magnitudes
    if got.dtype == BF16:
        bound = bound + BF16_HALF_ULP * (np.abs(s) + bound) + BF16_HALF_SUBNORMAL
    with np.errstate(invalid="ignore"):
        excess = np.abs(c - s) - bound
    assert (excess[finite] <= 0).all(), f"worst excess {excess[finite].max()}"


def assert_same_bits(x, y):
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(np.ascontiguousarray(x).view(np.uint8),
                                  np.ascontiguousarray(y).view(np.uint8))


# ---------------------------------------------------------------- matmul

@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
@pytest.mark.parametrize("m,n,kdim", SHAPES)
def test_matmul_sizes(c_impl, dtype, m, n, kdim):
    a, b = random((m, kdim), dtype, 1), random((kdim, n), dtype, 2)
    assert_gemm(c_impl.matmul(a, b), a, b)
    out = np.empty((m, n), reference.result_dtype(dtype), order="F")
    c_impl.matmul(a, b, out=out)                  # the other C orientation
    assert_gemm(out, a, b)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_matmul_views(c_impl, dtype):
    big_a, big_b = random((40, 90), dtype, 3), random((70, 60), dtype, 4)
    views = [
        (big_a[:9, :35], big_b[:35, :11]),                  # row slices
        (big_a[:35, :9].T, big_b[:11, :35].T),              # transposed
        (big_a[::3, 1::2][:7, :30], big_b[::2, ::-3][:30, :8]),   # strided, reversed
        (big_a[::-2, ::-1][:5, :45], big_b[-1:-46:-1, 5:12]),     # negative strides
    ]
    for a, b in views:
        assert_gemm(c_impl.matmul(a, b), a, b)
    a, b = views[2]
    out = np.zeros((20, 30), reference.result_dtype(dtype))[::2, ::-3]   # strided out
    c_impl.matmul(a, b, out=out[:7, :8])
    assert_gemm(out[:7, :8], a, b)
    assert_same_bits(out[:7, :8], c_impl.matmul(a, b))   # where C lies: same bits


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_matmul_batches_and_vectors(c_impl, dtype):
    a, b = random((3, 1, 6, 20), dtype, 5), random((4, 20, 5), dtype, 6)
    got = c_impl.matmul(a, b)
    assert got.shape == (3, 4, 6, 5)
    assert_gemm(got, a, b)
    v, w = random(20, dtype, 7), random(20, dtype, 8)
    row = c_impl.matmul(v, b)                       # (20) @ (4, 20, 5) -> (4, 5)
    assert row.shape == (4, 5)
    assert_gemm(row[:, None, :], v[None, :], b)
    col = c_impl.matmul(a, w)                       # -> (3, 1, 6)
    assert col.shape == (3, 1, 6)
    assert_gemm(col[..., None], a, w[:, None])
    scalar = c_impl.matmul(v, w)
    assert scalar.shape == () and scalar.dtype == reference.result_dtype(dtype)
    assert_gemm(scalar.reshape(1, 1), v[None, :], w[:, None])


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_vecdot(c_impl, dtype):
    x, y = random((4, 3, 257), dtype, 9), random((3, 257), dtype, 10)
    got = c_impl.vecdot(x, y)
    assert got.shape == (4, 3)
    assert_gemm(got[..., None, None], x[..., None, :],
                np.broadcast_to(y, x.shape)[..., :, None])
    strided = c_impl.vecdot(x[:, :, ::-2], y[:, ::-2])   # negative strides
    assert_gemm(strided[..., None, None], x[..., None, ::-2],
                np.broadcast_to(y, x.shape)[..., ::-2, None])


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
@pytest.mark.parametrize("k", [1, 2, 4, 23])
def test_k_variants(c_impl, dtype, k):
    a, b = random((6, 50), dtype, 11, 4.0), random((50, 7), dtype, 12, 0.25)
    assert_gemm(c_impl.matmul_k(k)(a, b), a, b, k)
    got = c_impl.vecdot_k(k)(a, b.T[:6])
    assert_gemm(got[:, None, None], a[:, None, :], b.T[:6, :, None], k)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_default_k_is_the_formats_own(c_impl, dtype):
    a, b = random((9, 70), dtype, 13), random((70, 10), dtype, 14)
    own = OWN_K[np.dtype(dtype)]
    assert_same_bits(c_impl.matmul(a, b), c_impl.matmul_k(own)(a, b))
    assert_same_bits(c_impl.vecdot(a, b.T[:9]), c_impl.vecdot_k(own)(a, b.T[:9]))


def special_inputs(dtype):
    """Operands with NaN, and with infinity where the format has one (e4m3fn
    has none: its only NaNs are S.1111.111)."""
    a, b = random((8, 40), dtype, 15), random((40, 9), dtype, 16)
    a[1, 3] = np.nan
    b[7, 2] = np.nan
    if dtype != E4M3:
        a[2, 5], a[3, 6], b[5, 4] = np.inf, -np.inf, np.inf
        b[6, 6] = 0.0
        a[4, 6] = np.inf                    # inf x 0: NaN
    a[5, :] = 0.0                           # zeros and subnormals
    a[6, :] = ml_dtypes.finfo(dtype).smallest_subnormal
    return a, b


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_nan_and_inf(c_impl, dtype):
    a, b = special_inputs(dtype)
    with np.errstate(invalid="ignore"):   # inf - inf in the sums raises the flag
        got = c_impl.matmul(a, b)
        dots = c_impl.vecdot(a, b.T[:8])
    assert_gemm(got, a, b)
    assert np.isnan(got.astype(np.float32)).any()
    assert_gemm(dots[:, None, None], a[:, None, :], b.T[:8, :, None])


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_thread_count_gives_the_same_bits(c_impl, dtype):
    a, b = random((150, 300), dtype, 17), random((300, 130), dtype, 18)
    with lmul_simd.num_threads(1):
        one = c_impl.matmul(a, b)
    for n in (2, 3, 8):
        with lmul_simd.num_threads(n):
            assert_same_bits(c_impl.matmul(a, b), one)
    assert_gemm(one[::17], a[::17], b)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_inputs_not_modified(c_impl, dtype):
    a, b = special_inputs(dtype)
    a0, b0 = a.copy(), b.copy()
    with np.errstate(invalid="ignore"):
        c_impl.matmul(a, b)
        c_impl.vecdot(a, b.T[:8])
    assert_same_bits(a, a0)
    assert_same_bits(b, b0)


# ---------------------------------------------------------------- C API

LIB = ctypes.CDLL(os.path.join(lmul_simd.get_library_dir(), "liblmul_simd.so"))
I64, PTR, F32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
OK, ERR_K, ERR_ARG = 0, -1, -2
GEMMS = {np.dtype(BF16): LIB.lmul_bgemm_strided, np.dtype(E4M3): LIB.lmul_e4m3gemm_strided,
         np.dtype(E5M2): LIB.lmul_e5m2gemm_strided}
DOTS = {np.dtype(BF16): LIB.lmul_bdot, np.dtype(E4M3): LIB.lmul_e4m3dot,
        np.dtype(E5M2): LIB.lmul_e5m2dot}
for function in GEMMS.values():
    function.argtypes = [I64, I64, I64, F32, PTR, I64, I64, PTR, I64, I64, F32, PTR,
                         I64, I64, ctypes.c_int]
for function in DOTS.values():
    function.argtypes = [I64, PTR, I64, PTR, I64, PTR, ctypes.c_int]


def c_gemm(a, b, c, alpha=1.0, beta=0.0, k=None, kdim=None):
    k = OWN_K[a.dtype] if k is None else k
    kdim = a.shape[1] if kdim is None else kdim
    return GEMMS[a.dtype](c.shape[0], c.shape[1], kdim, alpha, a.ctypes.data,
                          *a.strides, b.ctypes.data, *b.strides, beta, c.ctypes.data,
                          *c.strides, k)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_c_api_alpha_beta(c_impl, dtype):
    a, b = random((6, 40), dtype, 19), random((40, 5), dtype, 20)
    result = reference.result_dtype(dtype)
    c0 = random((6, 5), result, 21)
    c = np.full((6, 5), np.nan, result)             # beta 0: C is not read
    assert c_gemm(a, b, c) == OK
    assert_gemm(c, a, b)
    doubled = c0.copy()                             # alpha 2 scales exactly
    assert c_gemm(a, b, doubled, alpha=2.0) == OK
    assert_same_bits(doubled, (2 * c.astype(np.float32)).astype(result))
    c = c0.copy()
    assert c_gemm(a, b, c, beta=0.5) == OK
    assert_gemm(c, a, b, plus=0.5 * c0.astype(np.float64))
    c = c0.copy()
    assert c_gemm(a, b, c, beta=2.0, kdim=0) == OK  # kdim 0: beta * C
    np.testing.assert_array_equal(c.astype(np.float32), (2 * c0.astype(np.float32))
                                  .astype(result).astype(np.float32))


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_c_api_errors_write_nothing(dtype):
    a, b = random((6, 40), dtype, 22), random((40, 5), dtype, 23)
    result = reference.result_dtype(dtype)
    c = np.full((6, 5), 7.0, result)
    for bad_k in (0, 24):
        assert c_gemm(a, b, c, k=bad_k) == ERR_K
    assert GEMMS[a.dtype](2, 2, 2, 1.0, a.ctypes.data, 80, 1, None, 10, 1, 0.0,
                          c.ctypes.data, 10, 2, 7) == ERR_ARG
    assert GEMMS[a.dtype](-1, 2, 2, 1.0, a.ctypes.data, 80, 1, b.ctypes.data, 10, 1,
                          0.0, c.ctypes.data, 10, 2, 7) == ERR_ARG
    np.testing.assert_array_equal(c, np.full((6, 5), 7.0, result))
    r = np.full(1, 7.0, result)
    x = a[0]
    assert DOTS[a.dtype](40, x.ctypes.data, 1, x.ctypes.data, 1, r.ctypes.data, 0) == ERR_K
    assert DOTS[a.dtype](40, x.ctypes.data, 1, x.ctypes.data, 1, None, 7) == ERR_ARG
    assert r[0] == 7.0
    assert DOTS[a.dtype](40, x.ctypes.data, x.strides[0], x.ctypes.data, x.strides[0],
                         r.ctypes.data, OWN_K[a.dtype]) == OK
    assert_same_bits(r[0], lmul_simd.vecdot(x, x))
