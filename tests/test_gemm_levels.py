"""The blocked GEMM's summation order (docs/contract.md section 5.1), bit for
bit: every format gives the same bits on every ISA level and thread count,
and those bits are the documented order, reproduced here in NumPy: per
element of C, the container products of one chunk of KC = 256 steps summed
in k order from +0, then C = alpha * sum + beta * C for the first chunk
(alpha * sum alone for beta 0) and C = alpha * sum + C for the others; a
float16 or bfloat16 C is that float32 value rounded once at the end.
Zero-heavy data (random zeros, ReLU, zero rows and columns, zeros among tiny
and huge values) is held to the same bits, and gemm_stats() shows which
microkernel ran."""
import ctypes
import os

import ml_dtypes
import numpy as np
import pytest

import lmul_simd
from lmul_simd import reference

KC = 256
ISAS = lmul_simd.available_isas()
FORMATS = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16,
           ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
KDIMS = [1, 255, 256, 257, 300, 513, 1000, 2999]


def fmt_id(dtype):
    return np.dtype(dtype).name


def normal(shape, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(shape)).astype(dtype)


def container_products(a, b, k=None):
    """p[i, t, j] = lmul(a[i, t], b[t, j]) in the container (float32 or float64)."""
    c = reference.container_for(a.dtype)
    k = reference.default_k(a.dtype) if k is None else k
    abits = a.astype(c.dtype).view(c.uint)[:, :, None]
    bbits = b.astype(c.dtype).view(c.uint)[None, :, :]
    bits = reference.lmul_bits(*np.broadcast_arrays(abits, bbits), c, k)
    return bits.view(c.dtype)


def blocked_order(a, b, alpha=1.0, beta=0.0, c=None, k=None):
    """C in the order of docs/contract.md section 5.1."""
    p = container_products(a, b, k)
    acc_t = p.dtype.type
    alpha, beta = acc_t(alpha), acc_t(beta)
    out = None
    for p0 in range(0, a.shape[1], KC):
        s = np.zeros((a.shape[0], b.shape[1]), p.dtype)        # +0
        for t in range(p0, min(p0 + KC, a.shape[1])):
            s = s + p[:, t, :]
        if p0 > 0:
            out = alpha * s + out
        elif beta != 0:
            out = alpha * s + beta * c.astype(p.dtype)
        else:
            out = alpha * s
    return out.astype(reference.result_dtype(a.dtype))


def bits(x):
    x = np.ascontiguousarray(x)
    return x.view(np.dtype(f"u{x.dtype.itemsize}"))


def on_level(isa, fn, *args, threads=1):
    with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads):
        return fn(*args)


def assert_same_bits(got, want):
    assert got.dtype == want.dtype
    diff = bits(got) != bits(want)
    assert not diff.any(), (f"{diff.sum()} of {diff.size} elements differ, first at "
                            f"{np.argwhere(diff)[0]}: {got[diff][0]!r} vs {want[diff][0]!r}")


# ---------------------------------------------------------------- every level, every format

@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_levels_agree_and_follow_the_order(dtype):
    """Small M, N (edge tiles on every level), K across chunk boundaries."""
    for kdim in KDIMS:
        a, b = normal((3, kdim), dtype, 1), normal((kdim, 5), dtype, 2)
        want = blocked_order(a, b)
        for isa in ISAS:
            assert_same_bits(on_level(isa, lmul_simd.matmul, a, b), want)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_levels_agree_on_full_tiles(dtype):
    """Whole register tiles of every level (up to 32 x 12) and edges, both
    orientations of C."""
    a, b = normal((37, 600), dtype, 3), normal((600, 26), dtype, 4)
    want = blocked_order(a, b)
    for isa in ISAS:
        assert_same_bits(on_level(isa, lmul_simd.matmul, a, b), want)
        got_t = on_level(isa, lmul_simd.matmul, b.T, a.T)
        assert_same_bits(got_t, want.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=fmt_id)
def test_edge_tiles_of_every_width(dtype):
    """A row-major C's rows are the microkernels' columns: m = 17 .. 40 (the
    blocked path, gemm_stats) leaves every count of columns of a level's
    register tile (12 on AVX-512, 5 on AVX2) in its last tile, which the
    narrow edge kernels compute; also with B pre-packed."""
    b = normal((300, 40), dtype, 9)
    for m in range(17, 41):
        a = normal((m, 300), dtype, m)
        want = blocked_order(a, b)
        for isa in ISAS:
            lmul_simd.reset_gemm_stats()
            assert_same_bits(on_level(isa, lmul_simd.matmul, a, b), want)
            assert lmul_simd.gemm_stats()["fast"] > 0
            packed = on_level(isa, lambda: lmul_simd.matmul(a, lmul_simd.pack(b)))
            assert_same_bits(packed, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16,
                                   ml_dtypes.bfloat16], ids=fmt_id)
def test_levels_agree_with_k_rounding(dtype):
    a, b = normal((9, 700), dtype, 5), normal((700, 14), dtype, 6)
    for k in (1, 3, 4):
        want = blocked_order(a, b, k=k)
        for isa in ISAS:
            assert_same_bits(on_level(isa, lmul_simd.matmul_k(k), a, b), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, ml_dtypes.bfloat16],
                         ids=fmt_id)
def test_thread_counts_agree(dtype):
    """Large enough that 7 threads each get work."""
    a, b = normal((100, 1700), dtype, 7), normal((1700, 90), dtype, 8)
    a[:, ::5] = 0
    want = on_level(ISAS[0], lmul_simd.matmul, a, b)
    for isa in ISAS:
        for threads in (1, 2, 3, 7):
            assert_same_bits(on_level(isa, lmul_simd.matmul, a, b, threads=threads), want)


# ---------------------------------------------------------------- alpha, beta (C API)

LIB = ctypes.CDLL(os.path.join(lmul_simd.get_library_dir(), "liblmul_simd.so"))
I64, PTR = ctypes.c_int64, ctypes.c_void_p


def c_gemm(name, scalar):
    f = getattr(LIB, name)
    f.argtypes = [I64, I64, I64, scalar, PTR, I64, I64, PTR, I64, I64, scalar,
                  PTR, I64, I64, ctypes.c_int]
    return f


GEMMS = {np.dtype(np.float32): c_gemm("lmul_sgemm_strided", ctypes.c_float),
         np.dtype(np.float64): c_gemm("lmul_dgemm_strided", ctypes.c_double),
         np.dtype(np.float16): c_gemm("lmul_hgemm_strided", ctypes.c_float),
         np.dtype(ml_dtypes.bfloat16): c_gemm("lmul_bgemm_strided", ctypes.c_float)}


def api_gemm(a, b, alpha, beta, c):
    c = c.copy(order="F")   # columns contiguous: the driver does not transpose
    status = GEMMS[a.dtype](a.shape[0], b.shape[1], a.shape[1], alpha, a.ctypes.data,
                            *a.strides, b.ctypes.data, *b.strides, beta,
                            c.ctypes.data, *c.strides, reference.default_k(a.dtype))
    assert status == 0
    return c


@pytest.mark.parametrize("dtype", list(GEMMS), ids=fmt_id)
@pytest.mark.parametrize("alpha, beta", [(-1.5, 0.75), (-2.0, 0.0), (1.0, 1.0)])
def test_alpha_beta_follow_the_order(dtype, alpha, beta):
    a, b = normal((35, 530), dtype, 9), normal((530, 14), dtype, 10)
    a[4] = 0            # a zero row: alpha < 0 makes its C -0 (beta 0)
    c = normal((35, 14), dtype, 11)
    if beta == 0:
        c[:] = np.nan   # not read
    want = blocked_order(a, b, alpha, beta, c)
    for isa in ISAS:
        assert_same_bits(on_level(isa, api_gemm, a, b, alpha, beta, c), want)


# ---------------------------------------------------------------- zero-heavy data

def zero_heavy(case, dtype, shape_a=(70, 600), shape_b=(600, 50)):
    rng = np.random.default_rng(12)
    a, b = normal(shape_a, dtype, 13), normal(shape_b, dtype, 14)
    if case == "random":
        a[rng.random(a.shape) < 0.3] = 0
        b[rng.random(b.shape) < 0.3] = 0
    elif case == "relu":
        a = np.maximum(a, 0).astype(dtype)
    elif case == "rows_cols":
        a[3], a[40:52] = 0, 0
        b[:, 7], b[:, 20:33] = 0, 0
        a[:, 100:140] = 0
    elif case == "signed_zeros":
        a[rng.random(a.shape) < 0.3] = -0.0
        b[rng.random(b.shape) < 0.2] = -0.0
    elif case == "tiny_huge":
        big = np.finfo(dtype).max ** 0.45 if np.dtype(dtype).itemsize >= 4 else 8.0
        small = np.finfo(dtype).tiny ** 0.45 if np.dtype(dtype).itemsize >= 4 else 0.125
        a[rng.random(a.shape) < 0.2] = 0
        a[:, 10] = big
        a[5] = small
        b[:, 3] = small
        b[rng.random(b.shape) < 0.2] = 0
        b[20] = big
        b[21] = 1e-40 if dtype == np.float32 else 0   # subnormal: DAZ
    return a, b


ZERO_CASES = ["random", "relu", "rows_cols", "signed_zeros", "tiny_huge"]


@pytest.mark.parametrize("case", ZERO_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16], ids=fmt_id)
def test_zero_heavy_data(case, dtype):
    a, b = zero_heavy(case, dtype)
    with np.errstate(over="ignore"):
        want = blocked_order(a, b)
    for isa in ISAS:
        for x, y, w in ((a, b, want), (b.T, a.T, want.T)):
            assert_same_bits(on_level(isa, lmul_simd.matmul, x, y), w)


def test_zeros_on_both_sides():
    """The AVX2 zero kernel's unmasked form (see its source) against the
    contract's order, on every level: zeros on both sides, whole zero rows
    and columns (sums of zero products only must come out +0), negative
    weights, B's magnitudes spread over more than 2^76 in some chunks (the
    masked form). Round-to-nearest: the contract's zero rule (5.1 step 3)
    is stated for it."""
    a, b = zero_heavy("rows_cols", np.float32)
    a[rng_zeros(a.shape, 0.3)] = 0
    b[rng_zeros(b.shape, 0.3)] = 0
    b[300:, 40] = np.float32(1e-20)
    b[300:, 41] = np.float32(1e8)
    want = blocked_order(a, b)
    for isa in ISAS:
        assert_same_bits(on_level(isa, lmul_simd.matmul, a, b), want)
        assert_same_bits(on_level(isa, lmul_simd.matmul, b.T, a.T), want.T)
        assert_same_bits(on_level(isa, lmul_simd.matmul, -a, b), -want + 0.0)


def rng_zeros(shape, fraction, seed=5):
    return np.random.default_rng(seed).random(shape) < fraction


def stats_of(isa, a, b):
    lmul_simd.reset_gemm_stats()
    on_level(isa, lmul_simd.matmul, a, b)
    return lmul_simd.gemm_stats()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=fmt_id)
def test_zero_kernel_is_chosen(isa, dtype):
    """Zeros (no under/overflow possible) take the zero-tolerant kernel;
    dense data the one-add kernel; huge against huge the safe one."""
    dense = stats_of(isa, normal((70, 300), dtype), normal((300, 50), dtype))
    assert dense["fast"] > 0 and dense["zeros"] == 0 and dense["safe"] == 0
    for case in ("random", "relu", "signed_zeros"):
        used = stats_of(isa, *zero_heavy(case, dtype))
        assert used["zeros"] > 0 and used["safe"] == 0, (case, used)
    a, b = normal((70, 300), dtype), normal((300, 50), dtype)
    a[:] = np.finfo(dtype).max ** 0.75
    b[:, :] = np.finfo(dtype).max ** 0.75
    a[0, 0] = 0
    with np.errstate(over="ignore"):
        used = stats_of(isa, a, b)
    assert used["safe"] > 0 and used["zeros"] == 0


CANONICAL_NAN = {np.float32: 0x7FC00000, np.float64: 0x7FF8000000000000,
                 np.float16: 0x7E00, ml_dtypes.bfloat16: 0x7FC0}


@pytest.mark.parametrize("dtype", list(CANONICAL_NAN), ids=fmt_id)
def test_nan_results_are_canonical_on_every_path_and_level(dtype):
    """inf - inf in a sum is a negative NaN on x86, and which NaN an addition
    of two NaNs returns depends on its operand order: every NaN a GEMM or
    dot returns is the canonical quiet NaN, on every path and level."""
    a = np.ones((40, 40), dtype)
    a[:, 0], a[:, 1], a[::2, 2] = np.inf, -np.inf, np.nan   # inf - inf, then NaN
    b = np.ones((40, 40), dtype)
    uint = np.dtype(f"u{np.dtype(dtype).itemsize}")
    expected = CANONICAL_NAN[dtype]
    calls = {"blocked": lambda: lmul_simd.matmul(a, b),
             "few rows": lambda: lmul_simd.matmul(a[:3], b),
             "1-D": lambda: lmul_simd.matmul(a[0], b),
             "batch of small": lambda: lmul_simd.matmul(a.reshape(10, 4, 40)[:, :, :8],
                                                        b[:8, :8]),
             "vecdot": lambda: lmul_simd.vecdot(a, b),
             "packed": lambda: a @ lmul_simd.pack(b)}
    for isa in ISAS:
        for threads in (1, 3):
            with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads), \
                    np.errstate(invalid="ignore"):
                for path, call in calls.items():
                    out = np.asarray(call())
                    assert out.dtype == np.dtype(dtype), path
                    assert set(out.view(uint).ravel().tolist()) == {expected}, (isa, path)
