"""matmul and vecdot on bfloat16, float8_e4m3fn and float8_e5m2 (ml_dtypes):
float32 accumulation, bfloat16 -> bfloat16 and float8 -> float32 results,
within the bound of docs/contract.md section 4; products of one term bit-exact."""
import importlib.util

import ml_dtypes
import numpy as np
import pytest

from lmul_simd import _backend, reference
from test_elementwise_exact import assert_same_bits

BF16 = ml_dtypes.bfloat16
FORMATS = [BF16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
U = 2.0 ** -24               # float32 accumulation (docs/contract.md section 4)
BF16_HALF_ULP = 2.0 ** -8    # relative: the one final rounding to bfloat16
BF16_HALF_SUBNORMAL = 2.0 ** -134


def narrow_gemm_backends():
    """The backends whose matmul/vecdot take the ml_dtypes formats (the C
    backend's ISA levels, threads and C API: tests/test_narrow_gemm_c.py)."""
    return ["c"] + (["numba"] if importlib.util.find_spec("numba") is not None else [])


@pytest.fixture(params=narrow_gemm_backends())
def backend(request):
    return _backend.get(request.param)


def fmt_id(dtype):
    return np.dtype(dtype).name


def assert_within_bound(got, a, b, k=None):
    """|C - S| <= (K + 2) u sum |p| (docs/contract.md section 4); a bfloat16 result is
    the float32 sum rounded once more, so half an ulp of bfloat16 of it (or
    of the smallest subnormal, below the normal range) is allowed on top."""
    S, magnitudes = reference.exact_products_sum(a, b, k)
    K = a.shape[-1]
    bound = (K + 2) * U * magnitudes
    if got.dtype == BF16:
        bound += BF16_HALF_ULP * (np.abs(S) + bound) + BF16_HALF_SUBNORMAL
    error = np.abs(got.astype(np.float64) - S)
    assert np.all(np.isfinite(S)), "the data must give finite sums"
    assert np.all(error <= bound), f"worst excess {np.max(error - bound)}"


def assert_same_bits_but_zero_signs(got, expected):
    """Bit-exact, but for the sign of zeros: a sum starts from +0, so a
    product -0 may sum to +0 (docs/contract.md section 4 bounds values, not bits)."""
    zero = np.zeros((), got.dtype)
    assert_same_bits(got + zero, expected + zero)


def random(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
@pytest.mark.parametrize("shapes", [((7, 33), (33, 5)), ((2, 3, 40), (40, 9)),
                                    ((1, 4, 300), (3, 300, 2)), ((17,), (17, 6))])
def test_matmul_within_bound(backend, dtype, shapes):
    rng = np.random.default_rng(11)
    a, b = (random(rng, shape, dtype) for shape in shapes)
    got = backend.matmul(a, b)
    assert got.dtype == reference.result_dtype(dtype)
    assert got.shape == np.matmul(a.astype(np.float32), b.astype(np.float32)).shape
    if a.ndim == 1:                  # a 1-D operand is a row, as in np.matmul
        a, got = a[np.newaxis], got[np.newaxis]
    assert_within_bound(got, a, b)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
@pytest.mark.parametrize("k", [1, 2, 4, 23])
def test_matmul_k_within_bound(backend, dtype, k):
    rng = np.random.default_rng(12)
    a, b = random(rng, (6, 50), dtype, 4.0), random(rng, (50, 7), dtype, 0.25)
    got = backend.matmul_k(k)(a, b)
    assert got.dtype == reference.result_dtype(dtype)
    assert_within_bound(got, a, b, k)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_vecdot_within_bound(backend, dtype):
    rng = np.random.default_rng(13)
    a, b = random(rng, (4, 3, 70), dtype), random(rng, (3, 70), dtype)
    got = backend.vecdot(a, b)
    assert got.dtype == reference.result_dtype(dtype)
    assert got.shape == (4, 3)
    assert_within_bound(got[..., np.newaxis, np.newaxis], a[..., np.newaxis, :],
                        b[..., :, np.newaxis])


@pytest.mark.parametrize("dtype", FORMATS[1:], ids=fmt_id)
def test_one_term_products_are_the_elementwise_ones_float8(backend, dtype):
    """K = 1: every entry is one product, so the packing's decoding of every
    float8 value (subnormals, NaNs, e5m2 infinities) shows bit for bit."""
    every = np.arange(256, dtype=np.uint8).view(dtype)
    a, b = every[:, np.newaxis], every[np.newaxis, :]
    assert_same_bits_but_zero_signs(backend.matmul(a, b), reference.lmul(a, b))
    assert_same_bits_but_zero_signs(backend.matmul_k(1)(a, b), reference.lmul(a, b, 1))


def test_one_term_products_are_the_elementwise_ones_bfloat16(backend):
    every = np.arange(1 << 16, dtype=np.uint16).view(BF16)[:, np.newaxis]
    fixed = np.array([[1.0, -1.5, 3e-39, 7.25e37, 0.1]], np.float32).astype(BF16)
    assert_same_bits_but_zero_signs(backend.matmul(every, fixed),
                                    reference.lmul(every, fixed))


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_non_finite_inputs_follow_the_elementwise_rules(backend, dtype):
    rng = np.random.default_rng(14)
    a, b = random(rng, (5, 8), dtype), random(rng, (8, 4), dtype)
    a[1, 3] = np.nan
    b[2, 2] = 0.0
    if dtype != ml_dtypes.float8_e4m3fn:       # e4m3fn has no infinity
        a[3, 2] = np.inf                       # times b[2, 2] = 0: NaN in column 2
    S, _ = reference.exact_products_sum(a, b)
    got = backend.matmul(a, b).astype(np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(S))
    assert np.isnan(got[1]).all()
    finite = np.isfinite(S)
    assert np.array_equal(got[~finite & ~np.isnan(S)], S[~finite & ~np.isnan(S)])


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_inputs_are_not_modified(backend, dtype):
    rng = np.random.default_rng(15)
    a, b = random(rng, (3, 9), dtype), random(rng, (9, 4), dtype)
    a_bits, b_bits = a.tobytes(), b.tobytes()
    backend.matmul(a, b)
    backend.vecdot(a, b.T[:3])
    assert a.tobytes() == a_bits and b.tobytes() == b_bits
