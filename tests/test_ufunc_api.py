"""What NumPy users expect of a ufunc, for every implementation."""
import numpy as np
import pytest

from lmul_simd import reference
from test_elementwise_exact import assert_same_bits

RNG = np.random.default_rng(11)


def data(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def test_is_a_real_ufunc(impl):
    assert isinstance(impl.multiply, np.ufunc)
    assert isinstance(impl.multiply_k(3), np.ufunc)
    assert impl.multiply.nin == 2 and impl.multiply.nout == 1
    assert impl.multiply_k(3) is impl.multiply_k(3)  # cached


def test_identity_is_none(impl):
    """L-Mul(1, y) != y, so there is no identity: reductions need `initial`."""
    assert impl.multiply.identity is None
    with pytest.raises(ValueError):
        impl.multiply.reduce(np.array([], np.float32))
    x = data(5)
    got = impl.multiply.reduce(x)
    expected = x[0]
    for v in x[1:]:
        expected = reference.lmul(expected, v)
    assert_same_bits(got, expected)


def test_broadcasting(impl):
    x, y = data((4, 1, 3)), data((5, 1))
    got = impl.multiply(x, y)
    assert got.shape == (4, 5, 3)
    assert_same_bits(got, reference.lmul(x, y))


def test_shapes_that_do_not_broadcast(impl):
    with pytest.raises(ValueError, match="broadcast"):
        impl.multiply(data(3), data(4))


def test_out_and_where(impl):
    x, y = data(50), data(50)
    out = np.full(50, 7.0, np.float32)
    mask = x > 0
    result = impl.multiply(x, y, out=out, where=mask)
    assert result is out
    expected = np.where(mask, reference.lmul(x, y), np.float32(7.0))
    assert_same_bits(out, expected)


def test_out_of_another_dtype_casts(impl):
    x, y = data(10), data(10)
    out = np.empty(10, np.float64)
    impl.multiply(x, y, out=out)
    assert_same_bits(out, reference.lmul(x, y).astype(np.float64))


def test_dtype_selects_the_loop(impl):
    x, y = data(10), data(10)
    got = impl.multiply(x, y, dtype=np.float64)
    assert got.dtype == np.float64
    assert_same_bits(got, reference.lmul(x.astype(np.float64), y.astype(np.float64)))


def test_casting_rule_is_enforced(impl):
    with pytest.raises(TypeError):
        impl.multiply(data(3, np.float64), data(3, np.float64), dtype=np.float32,
                      casting="safe")


def test_zero_dim_and_empty(impl):
    x, y = np.float32(1.5), np.float32(-2.5)
    got = impl.multiply(np.array(x), np.array(y))
    assert got.shape == ()
    assert_same_bits(got, reference.lmul(x, y))
    assert impl.multiply(np.empty((0, 3), np.float32), data(3)).shape == (0, 3)


def test_python_scalars_follow_nep50(impl):
    x = data(4)
    got = impl.multiply(x, 3.0)
    assert got.dtype == np.float32
    assert_same_bits(got, reference.lmul(x, np.float32(3.0)))
    assert_same_bits(impl.multiply(2.0, 3.0), reference.lmul(2.0, 3.0))


def test_promotion_float32_float64_uses_float64(impl):
    x, y = data(6, np.float32), data(6, np.float64)
    got = impl.multiply(x, y)
    assert got.dtype == np.float64
    assert_same_bits(got, reference.lmul(x.astype(np.float64), y))


def test_float16_loop(impl):
    x, y = data(9, np.float16), data(9, np.float16)
    got = impl.multiply(x, y)
    assert got.dtype == np.float16
    assert_same_bits(got, reference.lmul(x, y))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_non_contiguous_negative_stride_views(impl, dtype):
    x, y = data((7, 9), dtype), data((9, 7), dtype)
    views = (x[::2, ::-3], y.T[::2, ::-3])
    assert_same_bits(impl.multiply(*views), reference.lmul(*views))
    assert_same_bits(impl.multiply(x[:, ::-1], y.T), reference.lmul(x[:, ::-1], y.T))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_misaligned_views(impl, dtype):
    n, size = 37, np.dtype(dtype).itemsize
    raw = np.zeros(3 * n * size + 8, np.uint8)
    odd_offsets = [1 + i * (n * size + 2) for i in range(3)]
    x, y, out = (raw[o : o + n * size].view(dtype) for o in odd_offsets)
    x[...] = data(n, dtype)
    y[...] = data(n, dtype)
    assert not (x.flags.aligned or y.flags.aligned or out.flags.aligned)
    expected = reference.lmul(x, y)
    impl.multiply(x, y, out=out)
    assert_same_bits(out, expected)


def test_in_place_out_aliases_input(impl):
    x, y = data(1000), data(1000)
    expected = reference.lmul(x, y)
    impl.multiply(x, y, out=x)
    assert_same_bits(x, expected)
    y2 = data((8, 8))
    expected = reference.lmul(y2, y2.T)
    impl.multiply(y2, y2.T, out=y2)   # overlapping: NumPy copies as needed
    assert_same_bits(y2, expected)


def test_outer_and_at(impl):
    x, y = data(5), data(4)
    assert_same_bits(impl.multiply.outer(x, y), reference.lmul(x[:, None], y[None, :]))
    z = data(6)
    expected = z.copy()
    expected[[0, 2]] = reference.lmul(z[[0, 2]], np.float32(2.0))
    impl.multiply.at(z, [0, 2], np.float32(2.0))
    assert_same_bits(z, expected)


def test_inputs_are_not_modified(impl):
    x, y = data(100), data(100)
    x0, y0 = x.copy(), y.copy()
    impl.multiply(x, y)
    impl.multiply_k(3)(x, y)
    assert_same_bits(x, x0)
    assert_same_bits(y, y0)


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize("k", [0, -1, 53, 1000])
def test_k_out_of_range(impl, k):
    with pytest.raises(ValueError, match="out of range"):
        impl.multiply_k(k)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_k_beyond_the_float32_container(impl, dtype):
    x = data(3, dtype)
    with pytest.raises(ValueError, match="out of range 1..23"):
        impl.multiply_k(24)(x, x)
    assert impl.multiply_k(24)(x.astype(np.float64), x).dtype == np.float64


def test_complex_and_object_inputs_are_refused(impl):
    with pytest.raises(TypeError, match="not supported"):
        impl.multiply(np.ones(3, np.complex64), np.ones(3, np.complex64))
    with pytest.raises(TypeError, match="not supported"):
        impl.multiply(np.array([1.0, "a"], dtype=object), np.ones(2))


def test_read_only_out_is_refused(impl):
    out = np.zeros(3, np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        impl.multiply(data(3), data(3), out=out)
