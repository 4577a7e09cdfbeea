"""The few-row (matrix-vector) path: the blocked GEMM's bits exactly, for
both layouts of the long operand, every ISA level and thread count, with
zeros, subnormals, infinities and NaN in the weights. A product with more
than 16 rows and columns takes the blocked path, so slicing its rows (or
columns) gives the reference bits."""
import ctypes
from pathlib import Path

import numpy as np
import pytest

import lmul_simd
from lmul_simd import reference

# inf - inf and overflow in the sums raise FP flags, as the contract says (6)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(1010)
ROWS = 16                                   # LMUL_GEMV_MAX_ROWS
ISAS = lmul_simd.available_isas()


def weights(kdim, n, special=False, layout="rows"):
    """K x n, as stored for x @ W (rows) or as nn.Linear's W.T (columns)."""
    w = RNG.standard_normal((kdim, n)).astype(np.float32)
    if special:
        flat = w.reshape(-1)
        picks = RNG.choice(flat.size, size=40, replace=False)
        values = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-41, 3e38, 1e-30]
        flat[picks] = np.resize(np.array(values, np.float32), picks.size)
    return w if layout == "rows" else np.ascontiguousarray(w.T).T


def same_bits(x, y):
    """Equal bit patterns, every NaN counting as one: when two NaNs (or inf and
    -inf) meet in a sum, which sign and payload comes out is the compiler's
    choice of operand order, in every path alike."""
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    bits = np.dtype(f"u{x.dtype.itemsize}")
    np.testing.assert_array_equal(np.where(np.isnan(x), 0, x).view(bits),
                                  np.where(np.isnan(y), 0, y).view(bits))


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("kdim", [7, 256, 600])
@pytest.mark.parametrize("special", [False, True])
def test_few_rows_equal_blocked(layout, kdim, special):
    x = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float32)
    w = weights(kdim, 150, special, layout)
    results = []
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            for threads in (1, 2, 3, 7):
                with lmul_simd.num_threads(threads):
                    blocked = lmul_simd.matmul(x, w)
                    for m in (1, 2, 5, 6, 7, 9, 13, ROWS):   # every row-group size
                        same_bits(lmul_simd.matmul(x[:m], w), blocked[:m])
                    same_bits(lmul_simd.matmul(x[0], w), blocked[0])   # 1-D @ 2-D
                    results.append(blocked)
    for r in results[1:]:
        same_bits(r, results[0])


def split_weights(fmt, kdim, n):
    """K x n weights in format fmt (float32 ones with specials)."""
    if fmt == "float32":
        return weights(kdim, n, special=True)
    if fmt == "float16":
        return weights(kdim, n).astype(np.float16)
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")
    return weights(kdim, n).astype(getattr(ml_dtypes, fmt))


@pytest.mark.parametrize("fmt, n", [("float32", 300), ("float32", 4100), ("float16", 300),
                                    ("bfloat16", 300), ("float8_e4m3fn", 300)])
def test_split_along_k_equal_blocked(fmt, n):
    """One or two rows of A, K of 9 chunks (the last short) and under 2048
    columns a thread: the threads take whole chunks of K and meet their sums
    in order afterwards (lmul_gemv.c, split_k), also over two strips of 4096
    columns and into a float16 C; the blocked bits on every thread count."""
    kdim = 8 * 256 + 246
    w = split_weights(fmt, kdim, n)
    x = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float16 if fmt == "float16"
                                                      else np.float32)
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            blocked = lmul_simd.matmul(x, w)
            for threads in (1, 2, 3, 7):
                with lmul_simd.num_threads(threads):
                    for m in (1, 2):
                        same_bits(lmul_simd.matmul(x[:m], w), blocked[:m])


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_split_along_k_few_columns(threads):
    """16 columns (one unit of columns: a single thread before) and K of 32
    chunks: threads along K only; the blocked bits."""
    kdim = 32 * 256 - 10
    w = weights(kdim, 16, special=True)
    x = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float32)
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            blocked = lmul_simd.matmul(x, w)
            with lmul_simd.num_threads(threads):
                for m in (1, 2):
                    same_bits(lmul_simd.matmul(x[:m], w), blocked[:m])


@pytest.mark.parametrize("fmt", ["float32", "float32 specials", "float32 zeros", "float16",
                                 "bfloat16", "float8_e4m3fn", "k=5"])
def test_relu_rows_of_a(fmt):
    """A with ReLU's zeros (and subnormals, -0): the stream, dots and tile loops
    mask their products (+0) and stay on the one-add product, unless B's chunk has
    an infinity or NaN (0 * inf is NaN), zeros of its own (float32) or
    products out of range: the blocked bits in every case, every level and
    thread count, x @ W and x @ W.T."""
    kdim, n = 600, 150
    name = fmt.split()[0]
    w = split_weights("float32" if name == "k=5" else name, kdim, n)
    if fmt == "float32 specials":
        w = weights(kdim, n, special=True)
    elif fmt == "float32 zeros":
        w[RNG.random(w.shape) < 0.01] = 0.0
    x = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float16 if name == "float16"
                                                      else np.float32)
    x = np.maximum(x, 0)
    x[:, 5] = -0.0
    x[:, 7] = np.float32(1e-40) if name != "float16" else 0
    matmul = lmul_simd.matmul_k(5) if name == "k=5" else lmul_simd.matmul
    wt = np.ascontiguousarray(w.T).T                    # nn.Linear's layout: the dots loop
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            blocked = matmul(x, w)
            for threads in (1, 2, 3):
                with lmul_simd.num_threads(threads):
                    for m in (1, 2, 4, 7, ROWS):     # the stream, dots and tile loops
                        same_bits(matmul(x[:m], w), blocked[:m])
                        same_bits(matmul(x[:m], wt), blocked[:m])


@pytest.mark.parametrize("fmt", ["float32", "float32 specials", "float32 relu", "k=5",
                                 "bfloat16", "float8_e4m3fn"])
def test_pruned_weights(fmt):
    """W with half its elements zero (pruned weights; -0 and subnormals among
    them), as x @ W and in nn.Linear's layout: the stream, dots and tile loops
    mask their products (+0) and stay on the one-add product, unless W's chunk
    has an infinity or NaN or products out of range: the blocked bits in every
    case, every level and thread count, m = 1 to 16."""
    kdim, n = 6 * 256 - 10, 150             # 2, 3 and 7 threads: x @ W split along k
    name = fmt.split()[0]
    w = weights(kdim, n, special=fmt.endswith("specials"))
    pruned = RNG.random(w.shape) < 0.5
    w[pruned] = 0.0
    w[pruned & (RNG.random(w.shape) < 0.1)] = -0.0
    w[3, :] = np.float32(1e-40)
    if name in ("bfloat16", "float8_e4m3fn"):
        ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")
        w = w.astype(getattr(ml_dtypes, name))
    x = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float32)
    if fmt.endswith("relu"):
        x = np.maximum(x, 0)
    matmul = lmul_simd.matmul_k(5) if name == "k=5" else lmul_simd.matmul
    wt = np.ascontiguousarray(w.T).T                    # nn.Linear's layout: the dots loop
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            blocked = matmul(x, w)
            for threads in (1, 2, 3, 7):
                with lmul_simd.num_threads(threads):
                    for m in (1, 2, 3, 4, 5, 7, ROWS):   # stream and dots, tiles
                        same_bits(matmul(x[:m], wt), blocked[:m])
                        same_bits(matmul(x[:m], w), blocked[:m])


@pytest.mark.parametrize("fmt, value, x_scale", [
    ("float32", np.inf, 1.0), ("float32", np.nan, 1.0), ("bfloat16", np.nan, 1.0),
    ("float8_e4m3fn", np.nan, 1.0), ("float8_e4m3fn", 448.0, 2.0 ** 120),
    ("float8_e5m2", -np.inf, 1.0)])
@pytest.mark.parametrize("relu", [False, True])
def test_one_special_weight_in_any_column(fmt, value, x_scale, relu):
    """A single infinity or NaN anywhere in W's rows, or float8's largest
    code where x is large enough for its products alone to overflow, sends
    its chunk to the every-case loop: the stream loop's record of what it saw
    covers every block of columns (the AVX2 loop keeps two records, taken in
    turn), the bits are those of the widened blocked product in every column
    it lands in, for the plain and the masked (ReLU'd x) loops."""
    kdim, n = 300, 139
    w32 = RNG.standard_normal((kdim, n)).astype(np.float32)
    w32[np.abs(w32) < 0.01] = 0.5           # no float8 zero: its 32-column loop stays on
    dtype = np.float32
    if fmt != "float32":
        ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")
        dtype = getattr(ml_dtypes, fmt)
    x = (RNG.standard_normal((2, kdim)) * x_scale).astype(np.float32)
    if relu:
        x = np.maximum(x, 0)
    for col in range(0, n, 7):
        w = w32.copy()
        w[260 if col % 2 else 5, col] = value
        w = w.astype(dtype)
        expected = lmul_simd.matmul(x, w.astype(np.float32))
        for isa in ISAS:
            with lmul_simd.use_isa(isa):
                for threads in (1, 2):
                    with lmul_simd.num_threads(threads):
                        for m in (1, 2):
                            same_bits(lmul_simd.matmul(x[:m], w), expected[:m])


def test_split_along_k_alpha_beta():
    """C = alpha A B + beta C through the C API, split along k as above: the
    bits of the same rows in a blocked product."""
    lib = ctypes.CDLL(str(next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))))
    lib.lmul_sgemm_strided.argtypes = [ctypes.c_int64] * 3 + [
        ctypes.c_float, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64,
        ctypes.c_int64, ctypes.c_int]
    kdim, n = 8 * 256 + 246, 300
    a = RNG.standard_normal((ROWS + 1, kdim)).astype(np.float32)
    b = weights(kdim, n, special=True)
    c0 = RNG.standard_normal((ROWS + 1, n)).astype(np.float32)

    def sgemm(m):
        c = c0[:m].copy()
        status = lib.lmul_sgemm_strided(m, n, kdim, 2.0, a.ctypes.data, *a.strides,
                                        b.ctypes.data, *b.strides, 0.5, c.ctypes.data,
                                        *c.strides, 23)
        assert status == 0
        return c
    with lmul_simd.num_threads(2):
        blocked = sgemm(ROWS + 1)
        for m in (1, 2):
            same_bits(sgemm(m), blocked[:m])


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("x_exp", [0, 100, -100])
def test_weights_at_range_edges(layout, x_exp):
    """Weights at powers of two from 2^-64 to 2^66 and near float32's
    limits, next to ordinary ones, with x near 1, 2^100 or 2^-100: wherever
    the one-add products stay valid, overflow or underflow, the stream and
    dots loops (and their choice of the one-add or the every-case loop per
    chunk) give the blocked bits."""
    kdim, n = 260, 150
    x = (RNG.uniform(1, 2, (ROWS + 1, kdim)) * 2.0 ** x_exp).astype(np.float32)
    edges = np.array([2.0 ** e for e in (-64, -63, -62, 27, 28, 29, 64, 65, 66)]
                     + [1.99 * 2.0 ** 64, 1.5e-38, 3e38], np.float32)
    for col in range(0, n, 10):
        w = np.array(weights(kdim, n, layout=layout))
        if layout == "columns":
            w = np.ascontiguousarray(w.T).T
        w[(col * 7) % kdim, col] = edges[col // 10 % edges.size]
        w[(col * 7 + 255) % kdim, col] = -edges[(col // 10 + 3) % edges.size]
        for isa in ISAS:
            with lmul_simd.use_isa(isa):
                blocked = lmul_simd.matmul(x, w)
                for m in (1, 2):
                    same_bits(lmul_simd.matmul(x[:m], w), blocked[:m])


@pytest.mark.parametrize("kdim", [9, 513])
def test_few_columns_equal_blocked(kdim):
    """W @ x (the short operand second) and a C with rows contiguous."""
    w = weights(kdim, 60, True).T.copy()             # 60 x K
    x = RNG.standard_normal((kdim, ROWS + 1)).astype(np.float32)
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            blocked = lmul_simd.matmul(w, x)
            for n in (1, 3, ROWS):
                same_bits(lmul_simd.matmul(w, x[:, :n]), blocked[:, :n])
            same_bits(lmul_simd.matmul(w, x[:, 0]), blocked[:, 0])


def test_strides_of_any_sign_and_alpha_beta():
    w = weights(300, 70, True)
    x = RNG.standard_normal((3, 300)).astype(np.float32)
    blocked = lmul_simd.matmul(np.vstack([x, np.ones((ROWS, 300), np.float32)]), w)[:3]
    same_bits(lmul_simd.matmul(x, w), blocked)
    # the same matrices through negative strides along k
    w_neg, x_neg = w[::-1].copy()[::-1], x[:, ::-1].copy()[:, ::-1]
    same_bits(lmul_simd.matmul(x_neg, w_neg), blocked)
    same_bits(lmul_simd.matmul(x, w.T.copy()[:, ::-1].copy()[:, ::-1].T), blocked)
    # columns reversed: not contiguous along a positive stride, still right
    same_bits(lmul_simd.matmul(x, w[:, ::-1]), blocked[:, ::-1])
    out = np.full((70, 3), np.nan, np.float32).T     # C with rows not contiguous
    lmul_simd.matmul(x, w, out=out)
    same_bits(out, blocked)


def test_matches_reference_products():
    """Within the contract's bound (docs/contract.md section 4) of the exact sum, and NaN/inf where the products say."""
    w = weights(520, 40, True)
    x = RNG.standard_normal((2, 520)).astype(np.float32)
    c = lmul_simd.matmul(x, w).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        s, magnitude = reference.exact_products_sum(x, w, None)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(s))
    finite = np.isfinite(s)
    np.testing.assert_array_equal(c[~finite & ~np.isnan(s)], s[~finite & ~np.isnan(s)])
    bound = (520 + 2) * 2.0 ** -24 * magnitude
    assert (np.abs(c - s)[finite] <= bound[finite]).all()


def test_k_rounding_and_half_output():
    w = weights(400, 33, True)
    x = RNG.standard_normal((ROWS + 1, 400)).astype(np.float32)
    mk = lmul_simd.matmul_k(5)
    same_bits(mk(x[:4], w), mk(x, w)[:4])
    h, wh = x.astype(np.float16), w.astype(np.float16)
    np.testing.assert_array_equal(lmul_simd.matmul(h[:3], wh).view(np.uint16),
                                  lmul_simd.matmul(h, wh)[:3].view(np.uint16))


def test_bad_input():
    w = weights(40, 40)
    x = RNG.standard_normal((2, 40)).astype(np.float32)
    with pytest.raises(ValueError):
        lmul_simd.matmul(x[:, :39], w)                 # inner dimensions
    with pytest.raises(ValueError):
        lmul_simd.matmul_k(0)
    with pytest.raises(TypeError):
        lmul_simd.matmul(x.astype(np.complex64), w)
    expected = lmul_simd.matmul(x, w)
    before = w.copy()
    lmul_simd.matmul(x, w, out=x)                      # out= aliasing an input
    same_bits(x, expected)
    np.testing.assert_array_equal(w, before)
