"""Mixed operand formats (float32 or bfloat16 activations times bfloat16 or
float8 weights): float32 results equal to the product of the widened
operands, bit for bit, on the few-row path and the blocked one, every level."""
import numpy as np
import pytest

import lmul_simd

ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")

RNG = np.random.default_rng(44)
NARROW = ["bfloat16", "float8_e4m3fn", "float8_e5m2"]


def same_bits(x, y):
    """Equal bits, every NaN one class (see test_gemv.same_bits)."""
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    np.testing.assert_array_equal(np.where(np.isnan(x), 0, x).view(np.uint32),
                                  np.where(np.isnan(y), 0, y).view(np.uint32))


def same_as_widened_on_every_level(x, w):
    """x @ w with w narrow: the bits of x @ w widened to float32 first, on
    every level."""
    expected = lmul_simd.matmul(x, w.astype(np.float32))
    for isa in lmul_simd.available_isas():
        with lmul_simd.use_isa(isa):
            same_bits(lmul_simd.matmul(x, w), expected)


def narrow_weights(name, shape, special=True):
    """Normal samples (so float8 zeros and subnormals too), and with special:
    NaN, infinities (where the format has them), signed zeros, extremes."""
    w = RNG.standard_normal(shape).astype(getattr(ml_dtypes, name))
    if not special:
        return w
    flat = w.reshape(-1)
    flat[:6] = np.array([0.0, -0.0, np.nan, 1e-3, -448.0, 0.015625]).astype(w.dtype)
    if name == "float8_e5m2" or name == "bfloat16":
        flat[6:8] = np.array([np.inf, -np.inf]).astype(w.dtype)
    return w


@pytest.mark.parametrize("name", NARROW)
@pytest.mark.parametrize("rows", [1, 5, 40])                # few-row and blocked
@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("special", [False, True])
def test_float32_times_narrow(name, rows, layout, special):
    w = narrow_weights(name, (300, 70), special)
    if layout == "columns":
        w = np.ascontiguousarray(w.T).T
    x = RNG.standard_normal((rows, 300)).astype(np.float32)
    for isa in lmul_simd.available_isas():
        with lmul_simd.use_isa(isa):
            expected = lmul_simd.matmul(x, w.astype(np.float32))
            got = lmul_simd.matmul(x, w)
            assert got.dtype == np.float32
            same_bits(got, expected)
            same_bits(lmul_simd.matmul(w.T, x.T), expected.T)   # narrow first


def every_code(name, kdim, n, special_rows):
    """K x n float8 weights, each column a different rotation of the finite
    codes, except the first 40 columns' first special_rows rows: of all 256
    codes. A chunk of the inner dimension with NaN or inf is computed again
    by the safe loop, the others keep the stream kernel's one-add sums."""
    dtype = getattr(ml_dtypes, name)
    codes = np.arange(256, dtype=np.uint8)
    finite = codes[np.isfinite(codes.view(dtype).astype(np.float32))]
    rot = np.arange(kdim)[:, None] + 37 * np.arange(n)[None, :]
    special = (np.arange(kdim)[:, None] < special_rows) & (np.arange(n)[None, :] < 40)
    return np.where(special, codes[rot % 256], finite[rot % finite.size]).view(dtype)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("kdim", [255, 260])
@pytest.mark.parametrize("special_rows", [0, 256])
def test_float8_gemv_every_code(name, kdim, special_rows):
    """The few-row stream path (m <= 4, x @ W) widens float8 itself: every
    code, NaN, zeros and subnormals included, gives the bits of widening
    first, on every level and thread count (n large enough for 3 threads)."""
    n = 12101                                  # a tail past every vector width
    w = every_code(name, kdim, n, special_rows)
    wide = w.astype(np.float32)
    x = RNG.standard_normal((4, kdim)).astype(np.float32)
    for m in range(1, 5):
        expected = lmul_simd.matmul(x[:m], wide)
        for isa in lmul_simd.available_isas():
            for threads in (1, 2, 3):
                with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads):
                    lmul_simd.reset_gemm_stats()
                    got = lmul_simd.matmul(x[:m], w)
                    assert sum(lmul_simd.gemm_stats().values()) == 0   # not the blocked path
                    same_bits(got, expected)
    for n in (1, 7, 9, 17, 33, 63, 65, 100):   # one vector or a few, and their tails
        same_as_widened_on_every_level(x, every_code(name, kdim, n, special_rows))


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("scale", [2.0 ** -118, 2.0 ** 125])
def test_float8_gemv_products_out_of_range(name, scale):
    """Activations so small (large) that their products with the smallest
    (largest) float8 codes leave float32's normal range: the stream loops'
    record of the codes they saw must send those chunks to the safe loop,
    whose flushed (infinite) products the one-add sum would get wrong. All
    positive: an infinite product makes its sum +inf, not NaN."""
    kdim, n = 260, 1100
    w = (every_code(name, kdim, n, 0).view(np.uint8) & 0x7F).view(getattr(ml_dtypes, name))
    x = (np.abs(RNG.standard_normal((2, kdim))) * scale).astype(np.float32)
    exact = np.abs(x[:, :, None].astype(np.float64) * w.astype(np.float64)[None])
    assert (exact[exact > 0].min() < 2.0 ** -126) if scale < 1 else (exact.max() > 2.0 ** 128)
    with np.errstate(over="ignore"):                    # the infinite products
        for m in (1, 2):
            same_as_widened_on_every_level(x[:m], w)


@pytest.mark.parametrize("lone", ["zero", "subnormal"])
@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_gemv_lone_zero_or_subnormal(name, lone):
    """A float8 zero (+0 or -0) or subnormal alone among normal weights: the
    stream loops skip the zero mask for blocks of columns without a zero, so
    a zero in any row of a block of rows, at either end of a block of columns
    or in the tail, must still leave its product out of the sum, and a
    subnormal's must count. (Unmasked, an e5m2 zero adds about x; an
    e4m3fn's adds about x * 2^-119, which the sum mostly absorbs.)"""
    kdim, n = 9, 1100
    codes = RNG.integers(0x20, 0x60, size=(kdim, n), dtype=np.uint8)   # normal, nonzero
    codes |= RNG.integers(0, 2, size=(kdim, n), dtype=np.uint8) << 7
    x = RNG.standard_normal((2, kdim)).astype(np.float32)
    for row in (0, 3, 4, 8):
        for col in (0, 7, 8, 31, 32, 63, 64, 95, 96, 1023, 1024, 1095, 1096, 1099):
            w = codes.copy()
            w[row, col] = (0x80 if (row + col) % 2 else 0x00) | (lone == "subnormal")
            w = w.view(getattr(ml_dtypes, name))
            for m in (1, 2):
                same_as_widened_on_every_level(x[:m], w)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_bfloat16_times_float8(name):
    w = narrow_weights(name, (260, 33))
    x = RNG.standard_normal((3, 260)).astype(ml_dtypes.bfloat16)
    got = lmul_simd.matmul(x, w)
    assert got.dtype == np.float32
    same_bits(got, lmul_simd.matmul(x.astype(np.float32), w.astype(np.float32)))
    same_bits(lmul_simd.matmul(w.T, x.T), got.T)


def test_k_and_float16_promotion():
    w = narrow_weights("bfloat16", (100, 20))
    x = RNG.standard_normal((2, 100)).astype(np.float32)
    mk = lmul_simd.matmul_k(6)
    same_bits(mk(x, w), mk(x, w.astype(np.float32)))
    h = x.astype(np.float16)                 # float16 x float32: NumPy's promotion
    got = lmul_simd.matmul(h, w.astype(np.float32))
    assert got.dtype == np.float32
    same_bits(got, lmul_simd.matmul(h.astype(np.float32), w.astype(np.float32)))


def test_bad_input():
    w = narrow_weights("bfloat16", (10, 4))
    with pytest.raises(ValueError):
        lmul_simd.matmul(np.ones((2, 9), np.float32), w)       # inner dimensions
    x = np.ones((2, 10), np.float32)
    with pytest.raises(TypeError):
        lmul_simd.matmul(x, w, out=np.empty((2, 4), np.int32))
    out = np.full((2, 4), np.nan, np.float32)
    lmul_simd.matmul(x[:, ::-1], w[::-1], out=out)               # negative strides
    same_bits(out, lmul_simd.matmul(x[:, ::-1], w[::-1].astype(np.float32)))
