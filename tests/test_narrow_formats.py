"""bfloat16, float8_e4m3fn and float8_e5m2 (ml_dtypes) on the same ufuncs:
bit-exact against the reference, exhaustively for float8."""
import ml_dtypes
import numpy as np
import pytest

from lmul_simd import reference
from test_elementwise_exact import assert_same_bits

FLOAT8 = [ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
BF16 = ml_dtypes.bfloat16


def all_pairs_float8(dtype):
    every = np.arange(256, dtype=np.uint8)
    x, y = np.meshgrid(every, every, indexing="ij")
    return x.ravel().view(dtype), y.ravel().view(dtype)


@pytest.mark.parametrize("dtype", FLOAT8, ids=lambda d: np.dtype(d).name)
def test_float8_all_pairs_default_k(impl, dtype):
    x, y = all_pairs_float8(dtype)
    got = impl.multiply(x, y)
    assert got.dtype == np.float32     # docs/contract.md section 3, the result's format
    assert_same_bits(got, reference.lmul(x, y))


@pytest.mark.parametrize("dtype", FLOAT8, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 23])
def test_float8_all_pairs_every_k(impl, dtype, k):
    x, y = all_pairs_float8(dtype)
    assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


def test_float8_decoding_is_exact(impl):
    """Subnormal float8 values take part as the exact values they are: their
    products with 1.0 (k = 23 adds 2^-4 of the result's exponent) match the
    reference, which decodes through ml_dtypes' own float32 cast."""
    for dtype in FLOAT8:
        every = np.arange(256, dtype=np.uint8).view(dtype)
        one = np.ones(256, dtype)
        assert_same_bits(impl.multiply(every, one), reference.lmul(every, one))


def bfloat16_specials():
    f32 = np.array([0.0, 1e-40, 1.17549435e-38, 1.0, 1.5, 1.9921875, 3.3895314e38,
                    np.inf, np.nan, 1e-20, 1e20, 2.0**-63, 2.0**64], np.float32)
    bits = f32.view(np.uint32) >> 16
    bits = np.concatenate([bits, bits | 0x8000, [0x7F7F, 0x0080, 0x007F, 0x7FC1, 0xFF81]])
    return bits.astype(np.uint16).view(BF16)


def test_bfloat16_special_value_matrix(impl):
    v = bfloat16_specials()
    x, y = v[:, None], v[None, :]
    for k in (None, 1, 3, 7, 23):
        got = impl.multiply(x, y) if k is None else impl.multiply_k(k)(x, y)
        assert got.dtype == BF16
        assert_same_bits(got, reference.lmul(x, y, k))


def test_bfloat16_random_pairs(impl):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 1 << 16, 10**6, dtype=np.uint16).view(BF16)
    y = rng.integers(0, 1 << 16, 10**6, dtype=np.uint16).view(BF16)
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))


def test_bfloat16_exhaustive_sweep(impl):
    every = np.arange(1 << 16, dtype=np.uint16).view(BF16)
    fixed = np.array([1.0, -1.5, 3e-39, 7.25e37, 0.1], np.float32).astype(BF16)
    x, y = every[:, None], fixed[None, :]
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
    assert_same_bits(impl.multiply_k(3)(x, y), reference.lmul(x, y, 3))


def test_mixed_with_float32_promotes(impl):
    x = np.linspace(-3, 3, 11).astype(BF16)
    y = np.linspace(1, 2, 11).astype(np.float32)
    got = impl.multiply(x, y)
    assert got.dtype == np.float32
    assert_same_bits(got, reference.lmul(x, y))


def test_strided_and_tails(impl):
    rng = np.random.default_rng(8)
    for dtype in FLOAT8 + [BF16]:
        base = rng.standard_normal(300).astype(dtype)
        for n in list(range(40)) + [63, 64, 65, 129]:
            x, y = base[:n], base[-1 : -n - 1 : -1] if n else base[:0]
            assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
            assert_same_bits(impl.multiply(base[: 2 * n : 2], y),
                             reference.lmul(base[: 2 * n : 2], y))


@pytest.mark.parametrize("dtype", FLOAT8 + [BF16], ids=lambda d: np.dtype(d).name)
def test_k_beyond_the_container_is_refused(impl, dtype):
    x = np.ones(3, dtype)
    with pytest.raises(ValueError, match="out of range 1..23"):
        impl.multiply_k(30)(x, x)
