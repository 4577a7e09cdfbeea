"""The L-Mul GEMM (matmul, vecdot and the C API) against the reference's
exact products: within the accumulation bound of docs/contract.md section 4."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lmul_simd
from lmul_simd import reference
from lmul_simd._settings import temporarily

RNG = np.random.default_rng(20241)
UNIT_ROUNDOFF = {np.dtype(np.float32): 2.0 ** -24, np.dtype(np.float64): 2.0 ** -53,
                 np.dtype(np.float16): 2.0 ** -24}
# sizes around every level's register tile (MR 4/8/16/32, NR 4/6/12) and
# cache block KC (256/384/512): m x n x k
SHAPES = [(1, 1, 1), (3, 5, 2), (15, 5, 9), (17, 7, 513), (31, 11, 385),
          (33, 13, 257), (5, 3, 1), (1, 40, 7), (40, 1, 7), (37, 41, 43)]


def normal(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def assert_gemm(c, a, b, k=None):
    """c against the float64 sum S of the exact L-Mul products of a @ b:
    |c - S| <= (K + 2) u sum|p| where finite, the same NaN and infinities
    elsewhere. float16 results get one more rounding to float16."""
    a = np.asarray(a)
    b = np.asarray(b)
    with np.errstate(invalid="ignore", over="ignore"):   # inf - inf in the sums
        s, magnitude = reference.exact_products_sum(a, b, k)
    c = np.asarray(c)
    assert c.shape == s.shape
    c64 = c.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c64), np.isnan(s))
    infinite = np.isinf(s)
    np.testing.assert_array_equal(c64[infinite], s[infinite])
    finite = np.isfinite(s)
    bound = (a.shape[-1] + 2) * UNIT_ROUNDOFF[c.dtype] * magnitude
    if c.dtype == np.float16:
        bound = bound * (1 + 2.0 ** -11) + 2.0 ** -11 * np.abs(s) + 2.0 ** -25
    with np.errstate(invalid="ignore"):
        excess = np.abs(c64 - s) - bound
    assert (excess[finite] <= 0).all(), f"worst excess {excess[finite].max()}"


# ---------------------------------------------------------------- matmul

@pytest.mark.parametrize("m,n,kdim", SHAPES)
def test_matmul_sizes(impl, m, n, kdim):
    a, b = normal((m, kdim)), normal((kdim, n))
    assert_gemm(impl.matmul(a, b), a, b)
    out = np.empty((m, n), np.float32, order="F")   # the other C orientation
    impl.matmul(a, b, out=out)
    assert_gemm(out, a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
@pytest.mark.parametrize("m,n,kdim", [(17, 13, 33), (9, 7, 300)])
def test_matmul_dtypes(impl, dtype, m, n, kdim):
    a, b = normal((m, kdim), dtype), normal((kdim, n), dtype)
    c = impl.matmul(a, b)
    assert c.dtype == dtype
    assert_gemm(c, a, b)


def test_matmul_float16_blocks_and_views(impl):
    """float16: sums over several KC blocks and MC blocks, views, one rounding."""
    a = normal((400, 300), np.float16)[::-1, ::2]
    b = normal((5, 150), np.float16).T
    c = impl.matmul(a, b)
    assert c.dtype == np.float16
    assert_gemm(c, a, b)
    out = np.zeros((10, 400), np.float16).T[:, ::-2]     # strided float16 C
    impl.matmul(a, b, out=out)
    np.testing.assert_array_equal(out, c)


@pytest.mark.parametrize("k", [1, 3, 4, 10])
def test_matmul_k(impl, k):
    a, b = normal((19, 23)), normal((23, 14))
    assert_gemm(impl.matmul_k(k)(a, b), a, b, k)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert_gemm(impl.matmul_k(k + 30)(a64, b64), a64, b64, k + 30)


def test_views_without_copies(impl):
    base_a, base_b = normal((40, 50)), normal((60, 30))
    views = [
        (base_a[:13, :21], base_b[:21, :9]),                     # sub-blocks
        (base_a.T[:17, :23], base_b.T[:23, :11]),                # transposed
        (np.asfortranarray(base_a[:19]), base_b[:50, :29]),      # Fortran order
        (base_a[::2, ::3][:15, :16], base_b[::-2, 1::2][:16]),   # strided, negative
        (base_a[::-1, ::-1][:9, :30], base_b[::-1][:30, ::-1]),  # both reversed
    ]
    for a, b in views:
        before = (a.copy(), b.copy())
        assert_gemm(impl.matmul(a, b), a, b)
        np.testing.assert_array_equal(a, before[0])
        np.testing.assert_array_equal(b, before[1])
    out_base = np.zeros((30, 40), np.float32)
    a, b = views[0]
    out = out_base[::-2, ::3][:13, :9]
    impl.matmul(a, b, out=out)
    assert_gemm(out, a, b)
    assert np.count_nonzero(out_base) == np.count_nonzero(out)   # nothing else written


def test_batches_and_1d(impl):
    a, b = normal((2, 1, 5, 7)), normal((3, 7, 4))
    c = impl.matmul(a, b)
    assert c.shape == (2, 3, 5, 4)
    for i in range(2):
        for j in range(3):
            assert_gemm(c[i, j], a[i, 0], b[j])
    v, w = normal(7), normal(7)
    assert impl.matmul(a, v).shape == (2, 1, 5)
    assert_gemm(impl.matmul(a[1, 0], v)[:, None], a[1, 0], v[:, None])
    assert_gemm(impl.matmul(v, b[2])[None], v[None], b[2])
    assert_gemm(np.reshape(impl.matmul(v, w), (1, 1)), v[None], w[:, None])


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 40), n=st.integers(0, 40), kdim=st.integers(0, 70),
       steps=st.tuples(*[st.sampled_from([1, 2, -1, -3])] * 4),
       transpose=st.tuples(st.booleans(), st.booleans()),
       isa=st.sampled_from(lmul_simd.available_isas()),
       dtype=st.sampled_from([np.float32, np.float64]), k=st.sampled_from([None, 2, 7]))
def test_matmul_any_view(m, n, kdim, steps, transpose, isa, dtype, k):
    """Random sizes, strides, orders and levels, with a guard around C."""
    def view(rows, cols, s_row, s_col, t):
        shape = (cols, rows) if t else (rows, cols)
        base = normal((shape[0] * abs(s_row), shape[1] * abs(s_col)), dtype)
        v = base[::s_row, ::s_col]
        return v.T if t else v
    a = view(m, kdim, steps[0], steps[1], transpose[0])
    b = view(kdim, n, steps[2], steps[3], transpose[1])
    guard = np.full((m + 2, 2 * n + 2), -7.0, dtype)
    out = guard[1:-1, 1:-1:2]
    with lmul_simd.use_isa(isa):
        (lmul_simd.matmul if k is None else lmul_simd.matmul_k(k))(a, b, out=out)
    assert_gemm(out, a, b, k)
    inside = np.zeros(guard.shape, bool)
    inside[1:-1, 1:-1:2] = True
    assert (guard[~inside] == -7.0).all()


def test_axes(c_impl):
    a, b = normal((7, 5)), normal((4, 7))   # a^T @ b^T with axes
    c = c_impl.matmul(a, b, axes=[(1, 0), (1, 0), (0, 1)])
    assert_gemm(c, a.T, b.T)


def test_empty_and_zero_inner(impl):
    assert impl.matmul(normal((0, 3)), normal((3, 4))).shape == (0, 4)
    c = impl.matmul(normal((3, 0)), normal((0, 4)))
    np.testing.assert_array_equal(c, np.zeros((3, 4), np.float32))


def test_nan_and_infinity(impl):
    a, b = normal((21, 17)), normal((17, 13))
    a[2, 3] = np.nan
    a[5, 1] = np.inf
    a[7, :] = 0.0
    a[7, 4] = -np.inf      # -inf * 0 products: NaN
    b[1, 2] = 0.0          # inf * 0: NaN
    b[6, 5] = np.inf
    b[9, :] = 1e-40        # subnormal: counts as zero
    assert_gemm(impl.matmul(a, b), a, b)
    assert_gemm(impl.matmul(a.astype(np.float64), b.astype(np.float64)),
                a.astype(np.float64), b.astype(np.float64))


# ---------------------------------------------------------------- microkernels

def tiles_used(impl, a, b):
    lmul_simd.reset_gemm_stats()
    c = impl.matmul(a, b)
    assert_gemm(c, a, b)
    return lmul_simd.gemm_stats()


def test_one_add_kernel_on_dense_data(c_impl):
    used = tiles_used(c_impl, normal((70, 40)), normal((40, 50)))
    assert used["fast"] > 0 and used["safe"] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_safe_kernel_on_zeros_tiny_and_huge(c_impl, dtype):
    a, b = normal((70, 40), dtype), normal((40, 50), dtype)
    a[RNG.random(a.shape) < 0.3] = 0.0
    used = tiles_used(c_impl, a, b)     # zeros alone: the zero kernel
    assert used["zeros"] > 0 and used["safe"] == 0 and used["fast"] == 0
    # huge rows of A against huge columns of B overflow, tiny ones underflow;
    # the other tiles stay on the one-add kernel
    big = np.finfo(dtype).max ** 0.6
    a, b = normal((70, 40), dtype), normal((40, 50), dtype)
    a[:10] *= big
    b[:, :7] *= big
    a[-10:] /= big
    b[:, -7:] /= big
    used = tiles_used(c_impl, a, b)
    assert used["safe"] > 0 and used["fast"] > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["zeros", "underflow", "overflow", "nan"])
def test_safe_kernel_cases(c_impl, dtype, case):
    """Each case the safe kernel tells apart, alone in every tile."""
    a, b = normal((45, 30), dtype), normal((30, 27), dtype)
    a[::3, ::2] = 0.0
    b[1::4] = -0.0
    info = np.finfo(dtype)
    if case == "underflow":          # some products below the normal range
        a *= np.sqrt(info.tiny) * 4
        b *= np.sqrt(info.tiny) * 4
    elif case == "overflow":         # one product beyond it, the sums finite
        a[0, 0] = info.max / 8
        b[0, 0] = 16.0
    elif case == "nan":
        a[4, 7] = np.nan
        b[9, 3] = -np.inf
    used = tiles_used(c_impl, a, b)
    assert used["fast"] == 0
    assert (used["zeros"] > 0) if case == "zeros" else (used["safe"] > 0)


def test_same_bits_for_any_thread_count(impl):
    a, b = normal((161, 203)), normal((203, 197))   # enough work for 3 threads
    a[RNG.random(a.shape) < 0.02] = 0.0    # some tiles safe, some fast
    # Numba allows at most NUMBA_NUM_THREADS (the CPU count) threads
    counts = (1, 2, 3) if impl.name == "c" else (1, 2)
    for dtype in (np.float32, np.float16):
        x, y = a.astype(dtype), b.astype(dtype)
        results = []
        for threads in counts:
            with temporarily(impl.get_num_threads, impl.set_num_threads, threads):
                results.append(impl.matmul(x, y))
        bits = np.uint32 if dtype == np.float32 else np.uint16
        for r in results[1:]:
            np.testing.assert_array_equal(r.view(bits), results[0].view(bits))
        assert_gemm(results[0], x, y)


# ---------------------------------------------------------------- vecdot

def test_vecdot(impl):
    x, y = normal((4, 1, 300)), normal((3, 300))
    d = impl.vecdot(x, y)
    assert d.shape == (4, 3)
    for i in range(4):
        assert_gemm(d[i][:, None], y, x[i, 0][:, None])
    h = impl.vecdot(x.astype(np.float16)[0, 0], y.astype(np.float16)[1, ::-1])
    assert h.dtype == np.float16
    assert_gemm(np.reshape(h, (1, 1)), x.astype(np.float16)[0, :, :],
                y.astype(np.float16)[1, ::-1][:, None])
    x64 = x.astype(np.float64)
    assert_gemm(impl.vecdot_k(40)(x64[0], x64[1])[:, None], x64[0], x64[1, 0][:, None])


# ---------------------------------------------------------------- errors

def test_bad_input(impl):
    with pytest.raises(ValueError):
        impl.matmul(normal((3, 4)), normal((5, 2)))
    with pytest.raises(ValueError):
        impl.matmul(normal((3, 4)), normal((4, 2)), out=np.empty((3, 3), np.float32))
    with pytest.raises(TypeError):
        impl.matmul(normal((3, 4)), normal((4, 2)), out=np.empty((3, 2), np.int32))
    with pytest.raises(ValueError):
        impl.vecdot(normal(3), normal(4))
    for k in (0, 53):
        with pytest.raises(ValueError):
            lmul_simd.matmul_k(k)
    with pytest.raises(ValueError):
        lmul_simd.matmul_k(30)(normal((2, 2)), normal((2, 2)))   # float32: k <= 23
    with pytest.raises(TypeError):
        lmul_simd.vecdot_k(True)
    with pytest.raises(ValueError):
        lmul_simd.set_num_threads(0)


def test_matmul_k_is_cached():
    assert lmul_simd.matmul_k(5) is lmul_simd.matmul_k(5)
    assert lmul_simd.vecdot_k(5) is lmul_simd.vecdot_k(5)


def test_thread_count_from_environment():
    code = "import lmul_simd; print(lmul_simd.get_num_threads())"
    env = dict(os.environ, LMUL_SIMD_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "3"
    with lmul_simd.num_threads(5):
        assert lmul_simd.get_num_threads() == 5


# ---------------------------------------------------------------- C API

LIB = ctypes.CDLL(os.path.join(lmul_simd.get_library_dir(), "liblmul_simd.so"))
I64, PTR = ctypes.c_int64, ctypes.c_void_p
ROW, COL, NO, TRANS = 101, 102, 111, 112
OK, ERR_K, ERR_ARG, ERR_DIM = 0, -1, -2, -4
for name, real in (("lmul_sgemm", ctypes.c_float), ("lmul_dgemm", ctypes.c_double)):
    getattr(LIB, name).argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, I64, I64, I64,
                                   real, PTR, I64, PTR, I64, real, PTR, I64, ctypes.c_int]
for name in ("lmul_sgemm_strided", "lmul_hgemm_strided"):
    getattr(LIB, name).argtypes = [I64, I64, I64, ctypes.c_float, PTR, I64, I64, PTR, I64,
                                   I64, ctypes.c_float, PTR, I64, I64, ctypes.c_int]


def sgemm(a, b, c, alpha=1.0, beta=0.0, k=23, dims=None, lds=None, layout=ROW,
          ta=NO, tb=NO):
    """lmul_sgemm on C-ordered (layout ROW) or Fortran-ordered (COL) arrays
    that hold op(A) (m x kdim) and op(B) (kdim x n) as stored by ta and tb."""
    m, n = c.shape
    kdim = a.shape[1] if ta == NO else a.shape[0]
    m, n, kdim = dims or (m, n, kdim)
    axis = 1 if layout == ROW else 0
    lda, ldb, ldc = lds or (a.shape[axis], b.shape[axis], c.shape[axis])
    return LIB.lmul_sgemm(layout, ta, tb, m, n, kdim, alpha, a.ctypes.data, lda,
                          b.ctypes.data, ldb, beta, c.ctypes.data, ldc, k)


@pytest.mark.parametrize("layout", [ROW, COL])
@pytest.mark.parametrize("ta", [NO, TRANS])
@pytest.mark.parametrize("tb", [NO, TRANS])
def test_c_blas_forms(c_impl, layout, ta, tb):
    m, n, kdim = 13, 9, 21
    a_op, b_op = normal((m, kdim)), normal((kdim, n))
    order = "C" if layout == ROW else "F"
    a = np.array(a_op.T if ta == TRANS else a_op, order=order)
    b = np.array(b_op.T if tb == TRANS else b_op, order=order)
    c = np.full((m, n), np.nan, np.float32, order=order)     # beta = 0 ignores NaN
    assert sgemm(a, b, c, layout=layout, ta=ta, tb=tb) == OK
    assert_gemm(c, a_op, b_op)


def test_c_alpha_beta(c_impl):
    a, b = normal((6, 5)), normal((5, 4))
    c0 = normal((6, 4))
    c = c0.copy()
    assert sgemm(a, b, c, alpha=2.0, beta=0.5) == OK
    s, magnitude = reference.exact_products_sum(a, b)
    expect = 2.0 * s + 0.5 * c0.astype(np.float64)
    assert (np.abs(c - expect) <= 7 * 2.0 ** -24 * (2 * magnitude + np.abs(c0)) + 1e-30).all()
    c = c0.copy()                                     # kdim = 0: beta * C
    assert sgemm(a, b, c, beta=3.0, dims=(6, 4, 0)) == OK
    np.testing.assert_array_equal(c, 3.0 * c0)
    c = np.full((6, 4), np.nan, np.float32)
    assert sgemm(a, b, c, beta=0.0, dims=(6, 4, 0)) == OK
    np.testing.assert_array_equal(c, np.zeros((6, 4), np.float32))


def test_c_errors(c_impl):
    a, b = normal((6, 5)), normal((5, 4))
    c = np.full((6, 4), 7.0, np.float32)
    assert sgemm(a, b, c, dims=(-1, 4, 5)) == ERR_ARG
    assert sgemm(a, b, c, dims=(6, 4, -5)) == ERR_ARG
    assert sgemm(a, b, c, lds=(4, 4, 4)) == ERR_DIM    # lda < kdim
    assert sgemm(a, b, c, lds=(5, 4, 3)) == ERR_DIM    # ldc < n
    assert sgemm(a, b, c, lds=(5, 5, 5), layout=COL) == ERR_DIM    # lda < m
    assert sgemm(a, b, c, k=0) == ERR_K
    assert sgemm(a, b, c, k=24) == ERR_K
    assert sgemm(a, b, c, ta=7) == ERR_ARG
    assert sgemm(a, b, c, layout=99) == ERR_ARG
    np.testing.assert_array_equal(c, np.full((6, 4), 7.0, np.float32))   # untouched
    assert LIB.lmul_sgemm_strided(2, 2, 2, 1.0, a.ctypes.data, 20, 4, b.ctypes.data, 16, 4,
                                  0.0, c.ctypes.data, 0, 4, 23) == ERR_ARG   # C rows alias
    assert LIB.lmul_sgemm_strided(2, 2, 2, 1.0, None, 20, 4, b.ctypes.data, 16, 4,
                                  0.0, c.ctypes.data, 16, 4, 23) == ERR_ARG


def test_c_float16_beta(c_impl):
    a, b = normal((6, 40), np.float16), normal((40, 5), np.float16)
    c0 = normal((6, 5), np.float16)

    def hgemm(c, beta, kdim=40):
        return LIB.lmul_hgemm_strided(6, 5, kdim, 1.0, a.ctypes.data, *a.strides,
                                      b.ctypes.data, *b.strides, beta, c.ctypes.data,
                                      *c.strides, 10)
    c = np.full((6, 5), np.nan, np.float16)
    assert hgemm(c, 0.0) == OK
    assert_gemm(c, a, b)
    c = c0.copy()
    assert hgemm(c, 2.0, kdim=0) == OK
    np.testing.assert_array_equal(c, (2 * c0.astype(np.float32)).astype(np.float16))
    c = c0.copy()
    assert hgemm(c, 1.0) == OK
    s, magnitude = reference.exact_products_sum(a, b)
    expect = s + c0.astype(np.float64)
    bound = 2.0 ** -11 * np.abs(expect) + 43 * 2.0 ** -24 * (magnitude + np.abs(c0))
    assert (np.abs(c - expect) <= bound + 2.0 ** -24).all()
