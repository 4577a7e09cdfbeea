"""Bit-exactness of every implementation (each C ISA level, each backend)
against the pure-NumPy reference: special values, random patterns, every k."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lmul_simd import reference
from lmul_cases import CONTAINERS, random_bits, special_bits

FLOAT_TYPES = [np.float32, np.float64]


def assert_same_bits(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    uint = np.dtype(f"u{got.dtype.itemsize}")
    g, e = got.view(uint).ravel(), expected.view(uint).ravel()
    bad = np.flatnonzero(g != e)
    assert bad.size == 0, (f"{bad.size} of {g.size} differ; first at {bad[0]}: "
                           f"got {g[bad[0]]:#x}, expected {e[bad[0]]:#x}")


def special_matrix(dtype):
    bits = special_bits(CONTAINERS[np.dtype(dtype)])
    x, y = np.meshgrid(bits, bits, indexing="ij")
    return x.ravel().view(dtype), y.ravel().view(dtype)


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_special_value_matrix_default_k(impl, dtype):
    x, y = special_matrix(dtype)
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_special_value_matrix_every_k(impl, dtype):
    x, y = special_matrix(dtype)
    for k in range(1, CONTAINERS[np.dtype(dtype)].P + 1):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_random_bit_patterns(impl, dtype):
    c = CONTAINERS[np.dtype(dtype)]
    x = random_bits(c, 1 << 16, seed=1).view(dtype)
    y = random_bits(c, 1 << 16, seed=2).view(dtype)
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))
    for k in (1, 2, 3, 4, 5, 7, 10, c.P - 1):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_random_normal_operands_every_k(impl, dtype):
    """Realistic data: mostly normal numbers, every k."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4096).astype(dtype)
    y = (rng.standard_normal(4096) * 1e3).astype(dtype)
    for k in range(1, CONTAINERS[np.dtype(dtype)].P + 1):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


def _property_check(impl, dtype, bits_x, bits_y, k):
    uint = CONTAINERS[np.dtype(dtype)].uint
    x = np.array([bits_x], dtype=uint).view(dtype)
    y = np.array([bits_y], dtype=uint).view(dtype)
    assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


# the implementation fixture is deliberately the same for every example
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY_SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(1, 23))
def test_property_float32(impl, bits_x, bits_y, k):
    _property_check(impl, np.float32, bits_x, bits_y, k)


@PROPERTY_SETTINGS
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(1, 52))
def test_property_float64(impl, bits_x, bits_y, k):
    _property_check(impl, np.float64, bits_x, bits_y, k)


def test_float16_all_patterns(impl):
    """Every float16 pattern against a random set of float16 operands."""
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    others = random_bits(CONTAINERS[np.dtype(np.float32)], 48, seed=4)
    others = (others >> 16).astype(np.uint16).view(np.float16)
    x, y = every[:, None], others[None, :]
    assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 9, 10, 16, 23])
def test_float16_k(impl, k):
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    y = x[::-1].copy()
    assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))


LENGTHS = list(range(68)) + [127, 128, 129, 255, 256, 257, 1023, 1024, 1025,
                             2047, 2049, 3073]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_every_length_contiguous_and_strided(impl, dtype):
    """Lengths 0..67 and around vector widths and buffer chunks, so that every
    tail path runs, for contiguous and strided operands."""
    rng = np.random.default_rng(5)
    base_x = rng.standard_normal(2 * max(LENGTHS)).astype(dtype)
    base_y = rng.standard_normal(2 * max(LENGTHS)).astype(dtype)
    for n in LENGTHS:
        for x, y in ((base_x[:n], base_y[:n]), (base_x[: 2 * n : 2], base_y[1 : 2 * n : 2])):
            assert_same_bits(impl.multiply_k(3)(x, y), reference.lmul(x, y, 3))
            assert_same_bits(impl.multiply(x, y), reference.lmul(x, y))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_exponent_sums_at_the_edges_of_the_normal_range(impl, dtype):
    """Every pair of exponent fields whose sum puts R (with the mantissa
    carry of 0, 1 or 2) just inside or outside the normal range, with the
    smallest and largest mantissas: where fast paths must hand over."""
    c = CONTAINERS[np.dtype(dtype)]
    e_bias, e_max = c.bias >> c.P, (c.inf >> c.P) - 1
    mantissas = [0, 1 << (c.P - 1), (1 << c.P) - 1]
    sums = [e_bias - 1, e_bias, e_bias + 1, e_bias + 2,
            e_bias + e_max - 3, e_bias + e_max - 2, e_bias + e_max - 1, e_bias + e_max]
    xs, ys = [], []
    for total in sums:
        for e_x in (max(1, total - e_max), total // 2, min(e_max, total - 1)):
            e_y = total - e_x
            for mx in mantissas:
                for my in mantissas:
                    xs.append((e_x << c.P) | mx)
                    ys.append((e_y << c.P) | my)
    x = np.array(xs, c.uint).view(dtype)
    y = np.array(ys, c.uint).view(dtype)
    for k in (1, 4, 5, c.P):
        assert_same_bits(impl.multiply_k(k)(x, y), reference.lmul(x, y, k))
        assert_same_bits(impl.multiply_k(k)(-x, y), reference.lmul(-x, y, k))
