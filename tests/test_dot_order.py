"""vecdot and the C dots sum in the blocked GEMM's order: each dot has the
bits of the 1 x 1 product x @ y, on every ISA level and thread count, for
every format, stride and special value."""
import numpy as np
import pytest

import lmul_simd
from test_gemm_levels import blocked_order

# inf - inf and overflow in the sums raise FP flags, as the contract says (6)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(77)
ISAS = lmul_simd.available_isas()
LENGTHS = [1, 7, 255, 256, 257, 600, 1300]


def same_bits(x, y):
    """Equal bits, every NaN one class (see test_gemv.same_bits)."""
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    bits = np.dtype(f"u{x.dtype.itemsize}")
    np.testing.assert_array_equal(np.where(np.isnan(x), 0, x).view(bits),
                                  np.where(np.isnan(y), 0, y).view(bits))


def operands(batch, n, dtype=np.float32, special=True):
    x = RNG.standard_normal((batch, n)).astype(dtype)
    y = RNG.standard_normal((batch, n)).astype(dtype)
    if special and n > 3:
        y[0, :4] = np.array([np.nan, 0.0, -np.inf, 1e-40]).astype(dtype)
        x[-1, 1] = np.inf
    return x, y


def by_matmul(x, y, matmul=lmul_simd.matmul):
    return np.array([matmul(a, b) for a, b in zip(x, y)])


@pytest.mark.parametrize("n", LENGTHS)
def test_vecdot_is_matmul_of_vectors(n):
    x, y = operands(21, n)
    results = []
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            expected = by_matmul(x, y)
            for threads in (1, 2, 3, 7):
                with lmul_simd.num_threads(threads):
                    got = lmul_simd.vecdot(x, y)
                    same_bits(got, expected)
                    results.append(got)
    for r in results[1:]:
        same_bits(r, results[0])


@pytest.mark.parametrize("n", [300, 5000])
def test_long_single_dot(n):
    x, y = operands(1, n, special=False)
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            same_bits(lmul_simd.vecdot(x[0], y[0]), lmul_simd.matmul(x[0], y[0]))
            same_bits(lmul_simd.vecdot(x[0, ::-1], y[0, ::-1]),
                      lmul_simd.matmul(x[0, ::-1], y[0, ::-1]))


def test_strides_broadcast_and_out():
    x, y = operands(40, 300)
    same_bits(lmul_simd.vecdot(x[:, ::-2], y[::-1, ::2]),
              by_matmul(x[:, ::-2], y[::-1, ::2]))
    same_bits(lmul_simd.vecdot(x[0], y), by_matmul(np.broadcast_to(x[0], y.shape), y))
    out = np.full(80, np.nan, np.float32)[::2]
    lmul_simd.vecdot(x, y, out=out)
    same_bits(out, by_matmul(x, y))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_builtin_formats(dtype):
    x, y = operands(9, 600, dtype)
    got = lmul_simd.vecdot(x, y)
    assert got.dtype == dtype
    same_bits(got, by_matmul(x, y))


def test_narrow_and_mixed_formats():
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="the narrow formats are ml_dtypes'")
    x, y = operands(17, 300, special=False)
    for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        w = y.astype(getattr(ml_dtypes, name))
        same_bits(lmul_simd.vecdot(w, w), by_matmul(w, w))
        got = lmul_simd.vecdot(x, w)                       # float32 x narrow
        assert got.dtype == np.float32
        same_bits(got, lmul_simd.vecdot(x, w.astype(np.float32)))
        same_bits(lmul_simd.vecdot(w, x), got)
    vk = lmul_simd.vecdot_k(4)
    same_bits(vk(x, y), by_matmul(x, y, lmul_simd.matmul_k(4)))


def one_add_breakers(batch, n):
    """Normal data but for a few items whose one-add products are wrong: a
    zero, a subnormal, an infinity, and a pair whose exact products underflow
    to zero while their one-add sums are near -2^127 (two of them overflow a
    float32 sum: a fast try must leave no flag)."""
    x, y = operands(batch, n, special=False)
    x[batch // 2, n - 1] = 0.0
    y[batch - 1, n // 2] = 1e-40
    x[min(3, batch - 1), 0] = np.inf
    x[0, :] = np.float32(2.0 ** -65)
    y[0, :] = np.float32(2.0 ** -64)
    return x, y


@pytest.mark.parametrize("batch", [1, 7, 8, 9, 15, 16, 17, 24, 25, 33, 48, 100])
@pytest.mark.parametrize("n", [256, 300])
@pytest.mark.parametrize("breakers", [False, True])
def test_vecdot_follows_the_order_around_the_call_widths(batch, n, breakers):
    """Dots in groups of 8 to 32 per kernel call, the one-add kernel where the
    operands' ranges allow it, the every-case kernel for a whole call where
    not: each dot has the bits of the contract's order."""
    x, y = one_add_breakers(batch, n) if breakers else operands(batch, n, special=False)
    want = np.array([blocked_order(a[None], b[:, None])[0, 0] for a, b in zip(x, y)])
    for isa in ISAS:
        for threads in (1, 2, 3):
            with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads):
                same_bits(lmul_simd.vecdot(x, y), want)


def test_operands_of_far_apart_scales():
    """x near 2^-70 and y near 2^70: every product is near 1, but a range kept
    for both operands together (the AVX2 kernel's) also holds 2^-70 * 2^-70,
    which underflows, so those chunks go to the every-case kernel: the same
    bits either way."""
    x, y = operands(40, 300, special=False)
    x = (x * 2.0 ** -70).astype(np.float32)
    y = (y * 2.0 ** 70).astype(np.float32)
    want = np.array([blocked_order(a[None], b[:, None])[0, 0] for a, b in zip(x, y)])
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            same_bits(lmul_simd.vecdot(x, y), want)


@pytest.mark.parametrize("sx", [1.0, -1.0])
@pytest.mark.parametrize("sy", [1.0, -1.0])
@pytest.mark.parametrize("scale", [2.0 ** -65, 2.0 ** 70])
def test_products_the_one_add_window_must_refuse(sx, sy, scale):
    """The one-add kernels first check that every element lies in a window of
    magnitudes ([2^-31, 2^33)) where each product is one add, by the top
    halves of the elements whatever their sign: an item whose products
    underflow (2^-65 * 2^-65) or overflow (2^70 * 2^70) in either sign must
    fail it; beside it, items with elements on the window's own edges."""
    x, y = operands(40, 256, special=False)
    below_top = np.nextafter(np.float32(2.0 ** 33), np.float32(0))
    x[1, ::2], y[1, ::2] = np.float32(2.0 ** -31), -below_top
    x[2, 1::3], y[2, 1::3] = -below_top, np.float32(-(2.0 ** -31))
    x[5, 7:9] = np.float32(sx * scale)
    y[5, 7:9] = np.float32(sy * scale)
    want = np.array([blocked_order(a[None], b[:, None])[0, 0] for a, b in zip(x, y)])
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            same_bits(lmul_simd.vecdot(x, y), want)


@pytest.mark.parametrize("pattern", ["relu", "signed zeros", "subnormals", "zero by inf",
                                     "all zeros"])
def test_zero_operands_in_the_one_add_sum(pattern):
    """Zeros (ReLU's every other element, -0), subnormals, a zero times
    infinity, a row of zeros: the one-add loop takes their products as +0
    where the other operands allow it (docs/contract.md 5.1 step 3), and
    gives the bits of the loop that computes every product, on every level
    and thread count, batched and as single long dots."""
    x, y = operands(40, 300, special=False)
    if pattern == "relu":
        x[:, ::2] = 0.0
    elif pattern == "signed zeros":
        x[RNG.random(x.shape) < 0.3] = -0.0
    elif pattern == "subnormals":
        y[RNG.random(y.shape) < 0.2] = np.float32(-1e-40)
    elif pattern == "zero by inf":
        x[x < 0] = 0.0
        y[3, np.flatnonzero(x[3] == 0)[0]] = np.inf          # 0 * inf: NaN
    else:
        x[5] = 0.0
    with lmul_simd.use_isa("scalar"):               # no one-add loop there
        expected = lmul_simd.vecdot(x, y)
        expected_long = lmul_simd.vecdot(x[3], y[3])
    assert np.isnan(expected[3]) == (pattern == "zero by inf")
    for isa in ISAS:
        with lmul_simd.use_isa(isa):
            for threads in (1, 2, 3):
                with lmul_simd.num_threads(threads):
                    same_bits(lmul_simd.vecdot(x, y), expected)
                    same_bits(lmul_simd.vecdot(x[3], y[3]), expected_long)


def test_a_discarded_one_add_try_leaves_no_flags():
    x, y = one_add_breakers(40, 256)
    x[3, 0] = 1.0                   # no infinity: the exact dots raise nothing
    for isa in ISAS:
        with lmul_simd.use_isa(isa), np.errstate(all="raise"):
            got = lmul_simd.vecdot(x, y)
        assert got[0] == 0.0


def test_a_refused_window_try_leaves_no_flags():
    """ReLU's zeros: the window's try adds their bits too, and a zero's
    garbage product with y in (-1, 0) lies among the infinities and NaNs
    (overflow, invalid); the window refuses them and the ranges' try (zeros
    as +0) keeps its sums: the flags must be those of the dots alone, none."""
    x, y = operands(40, 300, special=False)
    x[:, ::2] = 0.0
    for isa in ISAS:
        with lmul_simd.use_isa(isa), lmul_simd.num_threads(2):
            with np.errstate(all="raise"):
                got = lmul_simd.vecdot(x, y)
                long = lmul_simd.vecdot(x[0], y[0])
            with lmul_simd.use_isa("scalar"):
                same_bits(got, lmul_simd.vecdot(x, y))
                same_bits(long, lmul_simd.vecdot(x[0], y[0]))


def test_bad_input():
    x, y = operands(3, 10)
    with pytest.raises(ValueError):
        lmul_simd.vecdot(x, y[:, :9])
    with pytest.raises(TypeError):
        lmul_simd.vecdot(x, y, out=np.empty(3, np.int64))
    before = x.copy()
    lmul_simd.vecdot(x, x[::-1])
    np.testing.assert_array_equal(x, before)
    assert (lmul_simd.vecdot(np.ones((2, 0), np.float32), np.ones((2, 0), np.float32))
            == 0).all()
