"""The elementwise API on every implementation (the `impl` fixture), bit for
bit against lmul_simd.reference (SPEC.md sections 3 and 4)."""
import numpy as np
import pytest

from lmul_simd import reference

FLOAT_TYPES = [np.float16, np.float32, np.float64]
UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}


def special_values(dtype):
    """Zeros, subnormals, normals at the edges and near rounding boundaries,
    infinities and NaNs (with payloads), both signs."""
    info = np.finfo(dtype)
    one_ulp = np.spacing(dtype(1))
    magnitudes = [0, info.smallest_subnormal, info.smallest_normal * dtype(0.5),
                  info.smallest_normal, info.smallest_normal * 3, 1, 1 + one_ulp,
                  1.5, 1.5 - one_ulp, 1 + one_ulp * 2 ** 7 + one_ulp, 1.1, 2, 3.75,
                  np.sqrt(info.max), info.max / 2, info.max, np.inf]
    values = np.array(magnitudes, dtype=dtype)
    nans = np.array([np.nan], dtype=dtype).view(UINT[dtype])
    payload = nans | UINT[dtype](1)
    nans = np.concatenate([nans, payload]).view(dtype)
    values = np.concatenate([values, nans])
    return np.concatenate([values, -values])


def pairs(values):
    x, y = np.meshgrid(values, values)
    return x.ravel(), y.ravel()


def assert_same_bits(got, expected):
    assert got.dtype == expected.dtype
    uint = UINT[expected.dtype.type]
    np.testing.assert_array_equal(np.asarray(got).view(uint), expected.view(uint))


def random_bits(dtype, n, seed):
    uint = UINT[dtype]
    info = np.iinfo(uint)
    rng = np.random.default_rng(seed)
    return rng.integers(0, info.max, n, dtype=uint, endpoint=True).view(dtype)


def test_multiply_is_a_ufunc_without_identity(impl):
    assert isinstance(impl.multiply, np.ufunc)
    assert impl.multiply.nin == 2 and impl.multiply.nout == 1
    assert impl.multiply.identity is None
    assert {"ee->e", "ff->f", "dd->d"} <= set(impl.multiply.types)


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_special_value_matrix_default_k(impl, dtype):
    x, y = pairs(special_values(dtype))
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_value_matrix_every_k(impl, dtype):
    x, y = pairs(special_values(dtype))
    for k in range(1, reference.container_for(dtype).P + 1):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_bit_patterns_every_k(impl, dtype):
    x, y = random_bits(dtype, 4096, 1), random_bits(dtype, 4096, 2)
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
    for k in range(1, reference.container_for(dtype).P + 1):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


def test_float16_every_pattern_against_sampled_partners(impl):
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    for y in random_bits(np.float16, 8, 3):
        assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
    for k in (1, 4, 7, 10, 16, 23):
        y = random_bits(np.float16, x.size, 4 + k)
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


def test_large_contiguous_and_strided_operands(impl):
    x, y = random_bits(np.float32, 1 << 16, 5), random_bits(np.float32, 1 << 16, 6)
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
    assert_same_bits(impl.multiply(x[::3], y[::-3]), reference.lmul(x[::3], y[::-3]))


def test_broadcasting_out_and_where(impl):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    y = np.float32([0.5, 1.25, -2.0, 7.0])
    expected = reference.lmul(x, y)
    out = np.full_like(x, 42.0)
    result = impl.multiply(x, y, out=out, where=x > 0)
    assert result is out
    assert_same_bits(out[x > 0], expected[x > 0])
    assert (out[x <= 0] == 42.0).all()


def test_inputs_are_not_modified(impl):
    x, y = random_bits(np.float64, 100, 7), random_bits(np.float64, 100, 8)
    x_before, y_before = x.copy(), y.copy()
    impl.multiply_k(5)(x, y)
    assert_same_bits(x, x_before)
    assert_same_bits(y, y_before)


def test_mixed_dtypes_follow_numpy_promotion(impl):
    x, y = np.float16([1.5, -3.0]), np.float32([2.0, 0.75])
    got = impl.multiply(x, y)
    assert got.dtype == np.float32
    assert_same_bits(got, reference.lmul(x, y))


def test_k_out_of_range_is_a_value_error(impl):
    for k in (0, 53, -1):
        with pytest.raises(ValueError):
            impl.multiply_k(k)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_k_beyond_the_float32_container_refuses_narrow_inputs(impl, dtype):
    ufunc = impl.multiply_k(30)
    with pytest.raises(ValueError, match="out of range 1..23"):
        ufunc(np.ones(3, dtype), np.ones(3, dtype))
    x = np.float64([1.1, -2.5])
    assert_same_bits(ufunc(x, x), reference.lmul(x, x, 30))


def test_multiply_k_is_cached_per_k(impl):
    assert impl.multiply_k(7) is impl.multiply_k(7)
    assert impl.multiply_k(7) is not impl.multiply_k(8)
