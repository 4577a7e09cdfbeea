"""lmul_simd.nb: scalar L-Mul callable from a user's own Numba code."""
import numpy as np
import pytest

numba = pytest.importorskip("numba")

from lmul_simd import reference  # noqa: E402
from lmul_simd.nb import lmul32, lmul64  # noqa: E402

from lmul_cases import CONTAINERS, random_bits, special_bits  # noqa: E402
from test_elementwise_exact import assert_same_bits  # noqa: E402


def operands(dtype, n, seed):
    """The special-value set followed by n random bit patterns, as dtype."""
    c = CONTAINERS[np.dtype(dtype)]
    return np.concatenate([special_bits(c), random_bits(c, n, seed)]).view(dtype)


@numba.njit
def lmul32_loop(x, y, k):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = lmul32(x[i], y[i], k)
    return out


@numba.vectorize(["float64(float64, float64)"])
def lmul64_default_k(x, y):
    return lmul64(x, y)


def test_lmul32_in_njit_code_matches_the_reference():
    x = operands(np.float32, 500, 1)
    y = operands(np.float32, 500, 2)[::-1].copy()
    for k in (1, 3, 4, 10, 23):
        assert_same_bits(lmul32_loop(x, y, k), reference.lmul(x, y, k))


def test_lmul64_in_a_users_vectorize_matches_the_reference():
    x, y = operands(np.float64, 1000, 3), operands(np.float64, 1000, 4)
    assert_same_bits(lmul64_default_k(x, y), reference.lmul(x, y))


def test_scalar_calls_and_bad_k():
    assert lmul32(np.float32(1.5), np.float32(2.0)) == np.float32(3.125)
    assert lmul64(1.1, 1.1, 3) == 1.375
    with pytest.raises(ValueError, match="1..23"):
        lmul32(np.float32(1), np.float32(1), 24)
    with pytest.raises(ValueError, match="1..52"):
        lmul64(1.0, 1.0, 0)
