"""Pre-packed operands (lmul_simd.pack) and batches of products in one C
call: the same bits as the plain call, at every ISA level and thread count."""
import threading

import numpy as np
import pytest

import lmul_simd

ml_dtypes = pytest.importorskip("ml_dtypes")
pytestmark = pytest.mark.skipif(lmul_simd.backend != "c",
                                reason="pack and the batched GEMM are the C backend's")

RNG = np.random.default_rng(20251128)
ISAS = lmul_simd.available_isas()
THREADS = [1, 2, 3, 7]
FORMATS = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16,
           ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
# the direct loop takes m, n <= 32, m*n*k <= 4096, k <= KC; KC is 256 or 384
SMALL = [(1, 1, 1), (8, 8, 8), (3, 5, 7), (16, 16, 16), (32, 4, 32), (4, 32, 32),
         (17, 16, 15)]
OVER = [(33, 8, 8), (8, 33, 8), (16, 16, 17), (4, 4, 257), (5, 3, 385)]


def bits(x):
    x = np.asarray(x)
    return x.view(f"u{x.dtype.itemsize}")


def assert_same_bits(got, want):
    """Bit for bit, but a NaN's sign: x86 gives inf - inf a negative NaN and
    compilers swap the operands of an addition, so that sign is no result."""
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(np.asarray(want, np.float64))
    np.testing.assert_array_equal(np.isnan(np.asarray(got, np.float64)), nan)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])


def values(shape, dtype=np.float32, specials=False):
    x = RNG.standard_normal(shape) * 4
    if specials:
        flat = x.reshape(-1)
        picks = RNG.choice(flat.size, size=max(1, flat.size // 8), replace=False)
        flat[picks] = RNG.choice([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-42, 3e38],
                                 size=picks.size)
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(dtype)


def each_isa_and_threads():
    for isa in ISAS:
        for nt in THREADS:
            yield isa, nt


# ---------------------------------------------------------------- pack

@pytest.mark.parametrize("dtype", FORMATS, ids=lambda d: np.dtype(d).name)
def test_packed_same_bits_as_unpacked(dtype):
    # k > 256 crosses a KC chunk; n > 32 more than one panel of the widest MR
    a, b = values((2, 3, 300), dtype, True), values((300, 45), dtype, True)
    for isa, nt in each_isa_and_threads():
        with lmul_simd.use_isa(isa), lmul_simd.num_threads(nt):
            packed = lmul_simd.pack(b)
            with np.errstate(all="ignore"):
                want = lmul_simd.matmul(a, b)
                assert_same_bits(lmul_simd.matmul(a, packed), want)
                assert_same_bits(a @ packed, want)
                assert_same_bits(a[1, 2] @ packed, lmul_simd.matmul(a[1, 2], b))


@pytest.mark.parametrize("m,kdim,n", [(1, 1, 1), (1, 384, 1536), (64, 384, 97),
                                      (70, 20, 33)])
def test_packed_shapes(m, kdim, n):
    a, b = values((m, kdim)), values((kdim, n))
    packed = lmul_simd.pack(b)
    for nt in (1, 2, 7):
        with lmul_simd.num_threads(nt):
            assert_same_bits(lmul_simd.matmul(a, packed), lmul_simd.matmul(a, b))
    # strided and reversed A, and a C that is not row-major (out=)
    view = a[::-1, ::-1] if kdim > 1 else a[::-1]
    b_view = b[::-1] if kdim > 1 else b
    assert_same_bits(lmul_simd.matmul(view, lmul_simd.pack(b_view)),
                     lmul_simd.matmul(view, b_view))
    out = np.empty((m, n), np.float32, order="F")
    assert lmul_simd.matmul(a, packed, out=out) is out
    assert_same_bits(out, lmul_simd.matmul(a, b))


def test_packed_with_k():
    a, b = values((5, 40)), values((40, 7))
    for k in (1, 4, 10, 23):
        packed = lmul_simd.pack(b, k=k)
        assert_same_bits(lmul_simd.matmul_k(k)(a, packed), lmul_simd.matmul_k(k)(a, b))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert_same_bits(lmul_simd.matmul_k(30)(a64, lmul_simd.pack(b64, k=30)),
                     lmul_simd.matmul_k(30)(a64, b64))
    with pytest.raises(ValueError, match="out of range"):   # as matmul_k(30)(a, b)
        lmul_simd.matmul_k(30)(a, lmul_simd.pack(b, k=30))
    with pytest.raises(ValueError, match="k=5"):
        lmul_simd.matmul(a, lmul_simd.pack(b, k=5))
    with pytest.raises(ValueError, match="k=5"):
        lmul_simd.matmul_k(6)(a, lmul_simd.pack(b, k=5))
    with pytest.raises(ValueError, match="k=None"):
        lmul_simd.matmul_k(6)(a, lmul_simd.pack(b))
    with pytest.raises(ValueError, match="out of range"):
        lmul_simd.pack(b, k=0)
    with pytest.raises(TypeError):
        lmul_simd.pack(b, k=2.5)


@pytest.mark.parametrize("a_dtype,b_dtype", [
    (np.float32, ml_dtypes.bfloat16), (np.float64, np.float32),
    (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn), (np.float32, np.float16),
    (np.float16, np.float32), (np.int32, np.float32)])
def test_packed_mixed_formats(a_dtype, b_dtype):
    a, b = values((6, 50), a_dtype), values((50, 9), b_dtype)
    assert_same_bits(lmul_simd.matmul(a, lmul_simd.pack(b)), lmul_simd.matmul(a, b))


def test_packed_bad_input():
    b = values((40, 7))
    packed = lmul_simd.pack(b)
    with pytest.raises(ValueError, match="inner dimensions"):
        lmul_simd.matmul(values((3, 39)), packed)
    with pytest.raises(ValueError, match="0-d"):
        lmul_simd.matmul(np.float32(1), packed)
    with pytest.raises(TypeError, match="does not combine"):
        lmul_simd.matmul(np.ones((2, 40), np.complex64), packed)
    with pytest.raises(TypeError):
        np.add(values((2, 40)), packed)
    with pytest.raises(TypeError):
        lmul_simd.matmul(packed, values((7, 2)))       # packed is the second operand
    with pytest.raises(TypeError, match="only out="):
        lmul_simd.matmul(values((2, 40)), packed, dtype=np.float64)
    with pytest.raises(ValueError, match="out has shape"):
        lmul_simd.matmul(values((2, 40)), packed, out=np.empty((3, 7), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        lmul_simd.pack(values((2, 3, 4)))
    with pytest.raises(TypeError, match="unsupported dtype"):
        lmul_simd.pack(np.ones((3, 3), np.int64))


def test_packed_is_read_only_and_a_copy():
    b = values((30, 20))
    packed = lmul_simd.pack(b)
    want = lmul_simd.matmul(values((4, 30)), b)
    a = values((4, 30))
    want = lmul_simd.matmul(a, b)
    b[:] = 0                                    # the pack does not see it
    assert_same_bits(lmul_simd.matmul(a, packed), want)
    with pytest.raises(TypeError):
        memoryview(packed)
    with pytest.raises(AttributeError):
        packed.shape = (1, 1)
    with pytest.raises(AttributeError):
        packed.anything = 1
    assert packed.shape == (30, 20) and packed.dtype == np.float32


def test_packed_follows_the_isa():
    if "avx512" not in ISAS:
        pytest.skip("this CPU has no AVX-512 level to pack under")
    a, b = values((9, 300), specials=True), values((300, 40), specials=True)
    with lmul_simd.use_isa("avx512"):
        packed = lmul_simd.pack(b)
    for isa in ISAS:
        with lmul_simd.use_isa(isa), np.errstate(all="ignore"):
            assert_same_bits(lmul_simd.matmul(a, packed), lmul_simd.matmul(a, b))
    assert {layout[0] for layout in packed.layouts} == set(ISAS)


def test_packed_from_several_threads():
    b = values((200, 70))
    packed = lmul_simd.pack(b)
    inputs = [values((10 + i, 200)) for i in range(6)]
    wants = [lmul_simd.matmul(a, b) for a in inputs]
    results = [None] * len(inputs)

    def work(i):
        for _ in range(5):
            results[i] = lmul_simd.matmul(inputs[i], packed)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, wants):
        assert_same_bits(got, want)


# ---------------------------------------------------------------- batches

def blocked(a, b):
    """a @ b by the blocked loops: the rows of a with 40 more (m > 32 is never
    a direct product; each element depends on its row and column alone)."""
    tall = np.concatenate([a, np.ones((40, a.shape[1]), a.dtype)])
    return lmul_simd.matmul(tall, b)[:a.shape[0]]


@pytest.mark.parametrize("m,n,kdim", SMALL + OVER)
def test_batch_same_bits_as_each_item(m, n, kdim):
    count = 9
    a, b = values((count, m, kdim)), values((count, kdim, n))
    a[3, 0, 0] = 0.0                              # an item the direct loop declines
    for isa, nt in each_isa_and_threads():
        with lmul_simd.use_isa(isa), lmul_simd.num_threads(nt):
            each = [blocked(a[i], b[i]) for i in range(count)]
            got = lmul_simd.matmul(a, b)
            for i in range(count):
                assert_same_bits(got[i], each[i])
            # B broadcast over the batch, A strided
            got = lmul_simd.matmul(a[:, ::-1], b[0])
            for i in range(count):
                assert_same_bits(got[i], blocked(a[i, ::-1], b[0]))


def test_batch_direct_loop_is_used():
    a, b = values((100, 8, 8)), values((100, 8, 8))
    lmul_simd.reset_gemm_stats()
    got = lmul_simd.matmul(a, b)
    assert lmul_simd.gemm_stats() == {"fast": 0, "zeros": 0, "safe": 0}   # no register tile
    for i in range(0, 100, 17):
        assert_same_bits(got[i], blocked(a[i], b[i]))


@pytest.mark.parametrize("dtype", FORMATS, ids=lambda d: np.dtype(d).name)
def test_batch_formats_and_specials(dtype):
    a, b = values((7, 5, 12), dtype, True), values((7, 12, 6), dtype, True)
    with np.errstate(all="ignore"):
        for nt in (1, 3):
            with lmul_simd.num_threads(nt):
                got = lmul_simd.matmul(a, b)
                for i in range(7):
                    assert_same_bits(got[i], blocked(a[i], b[i]))


def test_batch_column_major_c_and_heads():
    # attention heads: 12 x (128 x 64 @ 64 x 128), C in both orientations
    a, b = values((12, 128, 64)), values((12, 64, 128))
    out = np.empty((12, 128, 128), np.float32).transpose(0, 2, 1).copy().transpose(0, 2, 1)
    for nt in (1, 2, 3):
        with lmul_simd.num_threads(nt):
            got = lmul_simd.matmul(a, b)
            lmul_simd.matmul(a, b, out=out)
        for i in (0, 5, 11):
            want = lmul_simd.matmul(a[i], b[i])
            assert_same_bits(got[i], want)
            assert_same_bits(out[i], want)


# ------------------------------------------- the levels' small kernels
# (lmul_sgemm_small_<arch>: m, n <= 32, k <= 64; A's and C's columns and
# B's rows or columns contiguous once oriented, else the portable loop)

SMALL_DIMS = [1, 7, 8, 9, 16, 31, 32, 33]
SMALL_K = [1, 63, 64, 65]


def same_bits_everywhere(matmul, a, b, want):
    """matmul(a, b) at every level and thread count gives want, bit for bit."""
    for isa, nt in each_isa_and_threads():
        with lmul_simd.use_isa(isa), lmul_simd.num_threads(nt):
            assert_same_bits(matmul(a, b), want)


@pytest.mark.parametrize("kdim", SMALL_K)
@pytest.mark.parametrize("m", SMALL_DIMS)
def test_small_kernel_same_bits_as_each_item(m, kdim):
    count = 5
    for n in SMALL_DIMS:
        a, b = values((count, m, kdim)), values((count, kdim, n))
        want = np.stack([blocked(a[i], b[i]) for i in range(count)])
        # B's columns contiguous once oriented (C row-major: C^T = B^T A^T),
        # B's rows contiguous, and A's columns strided (the portable loop)
        b_rows = np.ascontiguousarray(b.transpose(0, 2, 1)).transpose(0, 2, 1)
        a_cols = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
        # no overflow or invalid flag from lanes computed and dropped
        with np.errstate(over="raise", invalid="raise"):
            for x, y in ((a, b), (a, b_rows), (a_cols, b)):
                same_bits_everywhere(lmul_simd.matmul, x, y, want)


def with_ties(x):
    """Every third element a tie of rounding to k = 3 mantissa bits:
    +-(1 + (2j + 1) / 16) * 2^e (exact at k = 23)."""
    flat = x.reshape(-1)[::3]
    j, e = RNG.integers(0, 8, flat.size), RNG.integers(-3, 4, flat.size)
    flat[:] = np.copysign((1 + (2 * j + 1) / 16) * 2.0 ** e, flat)
    return x


SPECIALS = [0.0, -0.0, 1e-42, -1e-40, np.inf, -np.inf, np.nan, 3e38, 1e-30,
            np.float32(3.4028235e38)]


@pytest.mark.parametrize("k", [23, 3])
@pytest.mark.parametrize("m,n,kdim", [(8, 8, 8), (7, 9, 5), (16, 3, 64), (32, 32, 4)])
def test_small_kernel_special_values_fall_back_per_item(m, n, kdim, k):
    # each special value in one item of A or of B, the items around it
    # ordinary: those take the small kernel, that one the blocked loops
    count = 2 * len(SPECIALS) + 3
    a, b = with_ties(values((count, m, kdim))), with_ties(values((count, kdim, n)))
    for i, v in enumerate(SPECIALS):
        a[1 + 2 * i, m // 2, kdim - 1] = v
        b[2 + 2 * i, 0, n - 1] = v
    a[-1] *= 1e-19                                 # every product underflows
    matmul = lmul_simd.matmul if k == 23 else lmul_simd.matmul_k(k)
    with np.errstate(all="ignore"):
        tall = np.concatenate([a, np.ones((count, 40, kdim), a.dtype)], axis=1)
        want = matmul(tall, b)[:, :m]
        same_bits_everywhere(matmul, a, b, want)


def test_small_kernel_alpha_beta():
    # the C API's alpha and beta: (alpha * sum) + (beta * C), two roundings
    lib = c_library()
    for m, n, kdim in ((8, 8, 8), (5, 11, 7), (17, 9, 3)):
        a, b = values((6, m, kdim)), values((6, kdim, n))
        c0 = values((6, m, n))
        alpha, beta = np.array([1.5], np.float32), np.array([-0.75], np.float32)
        sums = np.stack([blocked(a[i], b[i]) for i in range(6)])
        want = alpha[0] * sums + beta[0] * c0
        for isa, nt in each_isa_and_threads():
            c = c0.copy()
            with lmul_simd.use_isa(isa), lmul_simd.num_threads(nt):
                assert lib.lmul_gemm_batch_strided(
                    0, 6, m, n, kdim, alpha.ctypes.data, a.ctypes.data, m * kdim * 4,
                    kdim * 4, 4, b.ctypes.data, kdim * n * 4, n * 4, 4, beta.ctypes.data,
                    c.ctypes.data, m * n * 4, n * 4, 4, 23) == 0
            assert_same_bits(c, want)


# ---------------------------------------------------------------- C API

def c_library():
    import ctypes
    from pathlib import Path
    path = next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))
    lib = ctypes.CDLL(str(path))
    i64, vp, ci = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.lmul_gemm_pack.argtypes = [ci, i64, i64, vp, i64, i64, ci, ctypes.POINTER(vp)]
    lib.lmul_gemm_compute.argtypes = [i64, vp, ci, vp, i64, i64, vp, vp, ci, vp, i64, i64]
    lib.lmul_packed_free.argtypes = [vp]
    lib.lmul_gemm_batch_strided.argtypes = [ci, i64, i64, i64, i64, vp, vp, i64, i64,
                                            i64, vp, i64, i64, i64, vp, vp, i64, i64,
                                            i64, ci]
    return lib


def test_c_pack_compute_status_codes():
    import ctypes
    lib = c_library()
    ok, err_k, err_arg, err_isa = 0, -1, -2, -3
    b, a = values((6, 5)), values((3, 6))
    c = np.full((3, 5), np.nan, np.float32)
    one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
    handle = ctypes.c_void_p()
    f32, f64, bf16 = 0, 1, 3

    def pack(fmt=f32, kdim=6, n=5, data=b.ctypes.data, k=23):
        return lib.lmul_gemm_pack(fmt, kdim, n, data, 20, 4, k, ctypes.byref(handle))

    def compute(m=3, a_fmt=f32, c_fmt=f32, packed=None):
        return lib.lmul_gemm_compute(m, one.ctypes.data, a_fmt, a.ctypes.data, 24, 4,
                                     packed if packed is not None else handle,
                                     zero.ctypes.data, c_fmt, c.ctypes.data, 20, 4)

    assert pack(k=0) == err_k and pack(k=24) == err_k
    assert pack(fmt=9) == err_arg and pack(kdim=0) == err_arg and pack(data=None) == err_arg
    assert lib.lmul_gemm_pack(f32, 6, 5, b.ctypes.data, 20, 4, 23, None) == err_arg
    assert pack() == ok
    try:
        assert compute() == ok
        assert_same_bits(c, lmul_simd.matmul(a, b))
        assert compute(m=-1) == err_arg
        assert compute(a_fmt=f64) == err_arg           # another container
        assert compute(c_fmt=f64) == err_arg
        assert compute(c_fmt=bf16) == ok                # a bfloat16 C is allowed
        assert compute(packed=0) == err_arg
        other = [i for i in ISAS if i != lmul_simd.get_isa()]
        if other:
            with lmul_simd.use_isa(other[0]):
                assert compute() == err_isa
    finally:
        lib.lmul_packed_free(handle)
    lib.lmul_packed_free(None)                          # as free(NULL)


def test_c_batch_status_codes():
    lib = c_library()
    a, b = values((4, 3, 2)), values((4, 2, 5))
    c = np.zeros((4, 3, 5), np.float32)
    one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)

    def batch(count=4, fmt=0, alpha=one.ctypes.data, kdim=2):
        return lib.lmul_gemm_batch_strided(fmt, count, 3, 5, kdim, alpha, a.ctypes.data,
                                           24, 8, 4, b.ctypes.data, 40, 20, 4,
                                           zero.ctypes.data, c.ctypes.data, 60, 20, 4, 23)

    assert batch(count=-1) == -2 and batch(fmt=6) == -2 and batch(alpha=None) == -2
    assert batch(count=0) == 0 and not c.any()
    assert batch() == 0
    assert_same_bits(c, lmul_simd.matmul(a, b))
    assert batch(kdim=0) == 0 and not c.any()           # beta * C
