"""Cases of the numba.cuda path, run by test_cuda.py in a process of their own:
under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, small sizes) and on a
real GPU. Not collected by a plain `pytest tests` run (no test_ prefix)."""
import os

import numpy as np
import pytest
from numba import cuda

from lmul_simd import cuda as lcuda
from lmul_simd import reference
from lmul_simd.cuda._bits import SIMULATOR
from lmul_cases import CONTAINERS, random_bits
from test_elementwise_exact import assert_same_bits, special_matrix

FLOAT_TYPES = [np.float32, np.float64]
K_VALUES = {np.float32: [1, 2, 3, 4, 5, 10, 22, 23], np.float64: [1, 3, 4, 7, 23, 51, 52]}
EVERY_K = [(dtype, k) for dtype in FLOAT_TYPES for k in K_VALUES[dtype]]
UNIT_ROUNDOFF = {np.dtype(np.float32): 2.0**-24, np.dtype(np.float64): 2.0**-53}
# (M, K, N): odd, smaller and larger than a tile, and ragged in every dimension
GEMM_SIZES = ([(1, 1, 1), (13, 9, 11), (37, 17, 3)] if SIMULATOR
              else [(1, 1, 1), (13, 9, 11), (131, 67, 257), (300, 515, 129)])


def test_runs_where_expected():
    """The simulator exactly when test_cuda.py asked for it."""
    assert lcuda.is_available()
    assert SIMULATOR == (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")


# --- elementwise ---------------------------------------------------------------

@pytest.mark.parametrize("dtype,k", EVERY_K)
def test_special_value_matrix(dtype, k):
    x, y = special_matrix(dtype)
    assert_same_bits(lcuda.multiply(x, y, k), reference.lmul(x, y, k))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_special_value_matrix_default_k(dtype):
    x, y = special_matrix(dtype)
    assert_same_bits(lcuda.multiply(x, y), reference.lmul(x, y))


@pytest.mark.parametrize("dtype,k", EVERY_K)
def test_random_bit_patterns(dtype, k):
    c = CONTAINERS[np.dtype(dtype)]
    n = 3000 if SIMULATOR else 1_000_003
    x = random_bits(c, n, seed=k).view(dtype)
    y = random_bits(c, n, seed=100 + k).view(dtype)
    assert_same_bits(lcuda.multiply(x, y, k), reference.lmul(x, y, k))


def test_float16_broadcast_and_scalar():
    x = np.arange(-40, 40, dtype=np.float16).reshape(8, 10) / np.float16(7)
    y = np.float16(-1.3)
    for k in (None, 3, 10):
        assert_same_bits(lcuda.multiply(x, y, k), reference.lmul(x, y, k))


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_narrow_ml_formats_on_host(name):
    """Patterns of the format (all 256 of a float8; 1024 random ones of
    bfloat16, for the simulator's sake) against a sample of 12: the float32
    container, and docs/contract.md section 3's result format."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed")
    dtype = np.dtype(getattr(ml_dtypes, name))
    uint = np.dtype(f"u{dtype.itemsize}")
    rng = np.random.default_rng(2)
    patterns = (np.arange(256, dtype=uint) if dtype.itemsize == 1
                else rng.integers(0, 1 << 16, 1024, dtype=uint))
    x, y = np.meshgrid(patterns.view(dtype), rng.choice(patterns, 12).view(dtype),
                       indexing="ij")
    for k in (None, 2):
        assert_same_bits(lcuda.multiply(x, y, k), reference.lmul(x, y, k))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_device_arrays_stay_on_device(dtype):
    x, y = special_matrix(dtype)
    expected = reference.lmul(x, y, 4)
    d_x, d_y = cuda.to_device(x), cuda.to_device(y)
    got = lcuda.multiply(d_x, d_y, 4)
    assert cuda.devicearray.is_cuda_ndarray(got)
    assert_same_bits(got.copy_to_host(), expected)
    d_out = cuda.device_array_like(d_x)
    assert lcuda.multiply(d_x, d_y, 4, out=d_out) is d_out
    assert_same_bits(d_out.copy_to_host(), expected)
    assert_same_bits(d_x.copy_to_host(), x)   # inputs untouched


@pytest.mark.skipif(SIMULATOR, reason="the simulator takes no foreign device arrays")
@pytest.mark.parametrize("library", ["torch", "cupy"])
def test_torch_and_cupy_arrays(library):
    """Through __cuda_array_interface__: results on the device, `out` written
    in place, the operands untouched."""
    lib = pytest.importorskip(library, reason=f"{library} is not installed")
    as_device = ((lambda h: lib.tensor(h, device="cuda")) if library == "torch"
                 else lib.asarray)
    to_host = (lambda d: d.cpu().numpy()) if library == "torch" else lib.asnumpy
    x, y = special_matrix(np.float32)
    d_x, d_y = as_device(x), as_device(y)
    assert_same_bits(lcuda.multiply(d_x, d_y, 3).copy_to_host(), reference.lmul(x, y, 3))
    d_out = as_device(np.zeros_like(x))
    assert lcuda.multiply(d_x, d_y, out=d_out) is d_out
    assert_same_bits(to_host(d_out), reference.lmul(x, y))
    assert_same_bits(to_host(d_x), x)
    a, b = random_operands(np.float32, 70, 33, 45, seed=21)
    got = lcuda.matmul(as_device(a), as_device(b)).copy_to_host()
    assert_within_bound(got, a, b)


def test_host_out_and_inputs_untouched():
    x = np.float32([[1.5, -3.0], [np.inf, 1e-40]])
    y = np.float32([2.0, 0.0])
    x_before, y_before = x.copy(), y.copy()
    out = np.empty((2, 2), np.float32)
    assert lcuda.multiply(x, y, out=out) is out
    assert_same_bits(out, reference.lmul(x, y))
    assert_same_bits(x, x_before)
    assert_same_bits(y, y_before)


def test_empty():
    assert lcuda.multiply(np.float32([]), np.float32([])).shape == (0,)


@pytest.mark.parametrize("dtype,k", [(np.float32, 0), (np.float32, 24),
                                     (np.float64, 53), (np.float16, 24)])
def test_k_out_of_range(dtype, k):
    with pytest.raises(ValueError, match="out of range"):
        lcuda.multiply(np.ones(3, dtype), np.ones(3, dtype), k)


def test_bad_inputs():
    with pytest.raises(TypeError, match="not defined"):
        lcuda.multiply(np.ones(3, np.int32), np.ones(3, np.int32))
    with pytest.raises(TypeError, match="integer"):
        lcuda.multiply(np.ones(3, np.float32), np.ones(3, np.float32), 2.5)
    with pytest.raises(TypeError, match="host and device"):
        lcuda.multiply(cuda.to_device(np.ones(3, np.float32)), np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float32 or all float64"):
        lcuda.multiply(cuda.to_device(np.ones(3, np.float32)),
                       cuda.to_device(np.ones(3, np.float64)))
    with pytest.raises(ValueError, match="one shape"):
        lcuda.multiply(cuda.to_device(np.ones(3, np.float32)),
                       cuda.to_device(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="out must be"):
        lcuda.multiply(np.ones(3, np.float32), np.ones(3, np.float32),
                       out=np.empty(3, np.float64))


# --- GEMM ------------------------------------------------------------------------

def assert_within_bound(got, a, b, k=None):
    """docs/contract.md section 4: |C - S| <= (K + 2) u sum |p| where S is finite; the
    non-finite entries of S (inf, NaN) exactly."""
    a, b = np.asarray(a), np.asarray(b)
    S, magnitudes = reference.exact_products_sum(a, b, k)
    got = np.asarray(got)
    assert got.shape == S.shape
    finite = np.isfinite(S)
    np.testing.assert_array_equal(got[~finite], S[~finite])
    container = reference.container_for(np.result_type(a, b))
    u = UNIT_ROUNDOFF[container.dtype]
    error = np.abs(got[finite].astype(np.float64) - S[finite])
    allowed = (a.shape[-1] + 2) * u * magnitudes[finite]
    worst = np.argmax(error - allowed) if error.size else 0
    assert np.all(error <= allowed), (f"error {error[worst]:.3g} over bound "
                                      f"{allowed[worst]:.3g}")


def random_operands(dtype, M, K, N, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((M, K)).astype(dtype),
            rng.standard_normal((K, N)).astype(dtype))


def sprinkle_specials(x, seed):
    """A copy of x with zeros, subnormals, extreme exponents, infinities and
    NaNs at random places: every tile that holds one takes the general path.
    The huge values are far below the format's maximum, so that sums of
    their products do not overflow the float32 accumulator where the float64
    reference sum S stays finite."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    info = np.finfo(x.dtype)
    huge = x.dtype.type(2.0) ** (info.maxexp // 2 + 8)   # products stay finite
    specials = np.array([0.0, -0.0, info.smallest_subnormal, huge, -huge,
                         info.smallest_normal * 5, np.inf, -np.inf, np.nan],
                        dtype=x.dtype)
    places = rng.random(x.shape) < 0.03
    x[places] = rng.choice(specials, size=int(places.sum()))
    return x


@pytest.mark.parametrize("dtype,k", [(np.float32, None), (np.float32, 3),
                                     (np.float64, None), (np.float64, 10)])
@pytest.mark.parametrize("M,K,N", GEMM_SIZES)
def test_gemm_tame_operands(dtype, k, M, K, N):
    a, b = random_operands(dtype, M, K, N, seed=M + K + N)
    got = lcuda.matmul(a, b, k)
    assert got.dtype == dtype
    assert_within_bound(got, a, b, k)


# inf - inf in the accumulation is NaN, as docs/contract.md says; the simulator warns
INF_MINUS_INF = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")


@INF_MINUS_INF
@pytest.mark.parametrize("dtype", FLOAT_TYPES)
@pytest.mark.parametrize("M,K,N", GEMM_SIZES[1:])
def test_gemm_special_values(dtype, M, K, N):
    a, b = random_operands(dtype, M, K, N, seed=7)
    a, b = sprinkle_specials(a, 1), sprinkle_specials(b, 2)
    with np.errstate(invalid="ignore", over="ignore"):
        assert_within_bound(lcuda.matmul(a, b, 5), a, b, 5)


@pytest.mark.parametrize("dtype,k", [(np.float32, None), (np.float32, 4),
                                     (np.float64, None), (np.float64, 30)])
@pytest.mark.parametrize("M,K,N", GEMM_SIZES[1:])
def test_gemm_zeros_and_subnormals(dtype, k, M, K, N):
    """Tame operands with zeros of both signs and subnormals (zeros after
    DAZ), as after a ReLU: the sparse path."""
    a, b = random_operands(dtype, M, K, N, seed=13)
    rng = np.random.default_rng(4)
    tiny = np.finfo(dtype).smallest_subnormal
    for x in (a, b):
        x[rng.random(x.shape) < 0.3] = 0.0
        x[rng.random(x.shape) < 0.05] = -0.0
        x[rng.random(x.shape) < 0.05] = -tiny
    b[:, 0] = 0.0                                   # a column of zeros
    assert_within_bound(lcuda.matmul(a, b, k), a, b, k)


@INF_MINUS_INF
@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_gemm_products_near_underflow_and_overflow(dtype):
    """Operands just outside the fast path's range, products that flush to
    zero and products that overflow, in one matrix."""
    c = CONTAINERS[np.dtype(dtype)]
    exponent_bias = c.bias >> c.P
    a, b = random_operands(dtype, 6, 7, 5, seed=3)
    a[0] *= dtype(2.0) ** (exponent_bias // 2 + 2)
    b[:, 0] *= dtype(2.0) ** (exponent_bias // 2 + 2)        # a[0] @ b[:, 0] overflows
    a[1] *= dtype(2.0) ** -(exponent_bias // 2 + 2)
    b[:, 1] *= dtype(2.0) ** -(exponent_bias // 2 + 2)       # a[1] @ b[:, 1] underflows
    with np.errstate(invalid="ignore", over="ignore"):
        assert_within_bound(lcuda.matmul(a, b), a, b)


def test_gemm_batched_and_broadcast():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((3, 5, 7)).astype(np.float32)
    b = rng.standard_normal((3, 7, 6)).astype(np.float32)
    assert_within_bound(lcuda.matmul(a, b), a, b)
    assert_within_bound(lcuda.matmul(a, b[0]), a, b[0])
    assert_within_bound(lcuda.matmul(a[0], b), a[0], b)


def test_gemm_float16_is_float32_rounded_once():
    a, b = random_operands(np.float16, 5, 9, 4, seed=5)
    got = lcuda.matmul(a, b)
    assert got.dtype == np.float16
    expected = lcuda.matmul(a.astype(np.float32), b.astype(np.float32), 10)
    assert_same_bits(got, expected.astype(np.float16))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_gemm_device_arrays(dtype):
    a, b = random_operands(dtype, 9, 6, 10, seed=9)
    got = lcuda.matmul(cuda.to_device(a), cuda.to_device(b), 4)
    assert cuda.devicearray.is_cuda_ndarray(got)
    assert_same_bits(got.copy_to_host(), lcuda.matmul(a, b, 4))


def test_gemm_inputs_untouched_and_empty_shapes():
    a, b = random_operands(np.float32, 4, 3, 2, seed=1)
    a_before, b_before = a.copy(), b.copy()
    lcuda.matmul(a, b)
    assert_same_bits(a, a_before)
    assert_same_bits(b, b_before)
    assert_same_bits(lcuda.matmul(a[:, :0], b[:0]), np.zeros((4, 2), np.float32))
    assert lcuda.matmul(a[:0], b).shape == (0, 2)


def test_gemm_bad_shapes():
    with pytest.raises(ValueError, match="inner dimensions"):
        lcuda.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="batch sizes"):
        lcuda.matmul(np.ones((2, 2, 3), np.float32), np.ones((3, 3, 2), np.float32))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        lcuda.matmul(np.ones(3, np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="out of range"):
        lcuda.matmul(np.ones((2, 2)), np.ones((2, 2)), 53)
