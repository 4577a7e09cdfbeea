"""matmul and vecdot on every implementation that has them, held to the
accumulation bound of docs/contract.md section 4 against reference.exact_products_sum."""
import numpy as np
import pytest

from lmul_simd import reference

UNIT_ROUNDOFF = {np.float16: 2.0 ** -24, np.float32: 2.0 ** -24, np.float64: 2.0 ** -53}


@pytest.fixture
def gemm_impl(impl):
    if not hasattr(impl, "matmul"):
        pytest.skip(f"the {impl.name!r} backend has no GEMM yet")
    return impl


def as_matrices(a, b):
    """The operands as reference.exact_products_sum takes them (1-D promoted)."""
    return (a[np.newaxis, :] if a.ndim == 1 else a), (b[:, np.newaxis] if b.ndim == 1 else b)


def assert_within_bound(got, a, b, k=None):
    """|C - S| <= (K + 2) u sum|p| (plus one float16 rounding for float16)."""
    dtype = np.result_type(a, b).type
    exact, magnitudes = reference.exact_products_sum(*as_matrices(a, b), k)
    exact = exact.reshape(np.shape(got))
    magnitudes = magnitudes.reshape(np.shape(got))
    bound = (a.shape[-1] + 2) * UNIT_ROUNDOFF[dtype] * magnitudes
    if dtype is np.float16:
        bound = bound + np.abs(exact) * 2.0 ** -11 + 2.0 ** -25
    error = np.abs(np.asarray(got, np.float64) - exact)
    assert (error <= bound).all(), f"largest excess {np.max(error - bound)}"


def operands(shape_a, shape_b, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape_a).astype(dtype),
            rng.standard_normal(shape_b).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape_a, shape_b", [
    ((20, 270), (270, 260)),          # two column panels, two k blocks
    ((4, 3, 8), (8, 5)),              # batch against one matrix
    ((2, 1, 3, 8), (4, 8, 2)),        # batch broadcasting both ways
    ((8,), (8, 3)), ((3, 8), (8,)), ((8,), (8,)),   # 1-D operands
])
def test_matmul_within_bound(gemm_impl, dtype, shape_a, shape_b):
    a, b = operands(shape_a, shape_b, dtype)
    got = gemm_impl.matmul(a, b)
    assert got.shape == np.matmul(a, b).shape
    assert got.dtype == dtype
    assert_within_bound(got, a, b)


@pytest.mark.parametrize("k", [1, 3, 4, 10, 23])
def test_matmul_k_within_bound(gemm_impl, k):
    a, b = operands((9, 40), (40, 7), np.float32, seed=k)
    assert_within_bound(gemm_impl.matmul_k(k)(a, b), a, b, k)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert_within_bound(gemm_impl.matmul_k(k + 29)(a64, b64), a64, b64, k + 29)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeros_subnormals_and_underflow(gemm_impl, dtype):
    info = np.finfo(dtype)
    a, b = operands((6, 50), (50, 9), dtype)
    a[0, :] = 0.0
    a[1, ::2] = -0.0
    a[2, :] = info.smallest_subnormal * 3      # subnormal: counts as zero
    a[3, :] *= np.sqrt(info.smallest_normal)   # with column 3: products near
    b[:, 3] *= np.sqrt(info.smallest_normal)   # the normal range's edge flush
    b[:, 0] = 0.0
    b[::3, 1] = info.max ** 0.9                # large products, finite sums
    assert_within_bound(gemm_impl.matmul(a, b), a, b)


def test_infinities_nans_and_overflow_follow_the_elementwise_rules(gemm_impl):
    a, b = operands((5, 20), (20, 6), np.float32)
    a[0, 3] = np.inf
    a[1, 4] = np.nan
    b[3, 2] = 0.0                             # inf * 0 -> NaN in column 2
    a[2, :] = np.finfo(np.float32).max        # products overflow to inf
    got = gemm_impl.matmul(a, b)
    with np.errstate(invalid="ignore"):      # inf - inf in the reference sums
        exact, magnitudes = reference.exact_products_sum(a, b)
        special = ~np.isfinite(exact)
        np.testing.assert_array_equal(got[special], exact[special].astype(np.float32))
        bound = (a.shape[-1] + 2) * 2.0 ** -24 * magnitudes[~special]
        assert (np.abs(got[~special] - exact[~special]) <= bound).all()


@pytest.mark.parametrize("shape_a, shape_b", [
    ((0, 3, 4), (1, 4, 2)), ((3, 0), (0, 2)), ((0, 4), (4, 2)), ((3, 4), (4, 0))])
def test_empty_operands_follow_numpy(gemm_impl, shape_a, shape_b):
    a, b = np.ones(shape_a, np.float32), np.ones(shape_b, np.float32)
    got = gemm_impl.matmul(a, b)
    expected = np.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert (got == 0).all()


def test_out_and_inputs_unchanged(gemm_impl):
    a, b = operands((4, 6), (6, 3), np.float32)
    a_before, b_before = a.copy(), b.copy()
    out = np.empty((4, 3), np.float64)
    assert gemm_impl.matmul(a, b, out=out) is out
    assert_within_bound(out, a, b)
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(b, b_before)
    with pytest.raises(ValueError):
        gemm_impl.matmul(a, b, out=np.empty((3, 4), np.float32))


def test_matmul_bad_operands(gemm_impl):
    a, b = operands((4, 6), (5, 3), np.float32)
    with pytest.raises(ValueError):
        gemm_impl.matmul(a, b)
    with pytest.raises(ValueError):
        gemm_impl.matmul(np.float32(2), b)
    with pytest.raises(TypeError):
        gemm_impl.matmul(np.ones((2, 2), np.complex64), np.ones((2, 2), np.complex64))
    with pytest.raises(ValueError):
        gemm_impl.matmul_k(30)(a, a.T)        # float32 container holds k <= 23
    with pytest.raises(ValueError):
        gemm_impl.matmul_k(53)
    with pytest.raises(ValueError):
        gemm_impl.vecdot(np.ones(3, np.float32), np.ones(4, np.float32))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_vecdot_within_bound(gemm_impl, dtype):
    a, b = operands((3, 4, 33), (33,), dtype)
    got = gemm_impl.vecdot(a, b)
    assert got.shape == (3, 4) and got.dtype == dtype
    assert_within_bound(got, a, b)
    assert_within_bound(gemm_impl.vecdot_k(5)(a, b), a, b, 5)
