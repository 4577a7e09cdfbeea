"""Pure-NumPy reference of L-Mul: the numerical contract of lmul_simd,
docs/contract.md in the project's repository, stated in code.

Readable and slow on purpose. Every backend (C scalar, AVX2, AVX-512, Numba,
CUDA) is tested bit for bit against :func:`lmul`.
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["Container", "FLOAT32", "FLOAT64", "container_for", "default_k",
           "check_k", "l_of_k", "round_to_k_bits", "lmul_bits", "result_dtype",
           "lmul", "exact_products_sum"]


@dataclass(frozen=True)
class Container:
    """The IEEE format L-Mul is computed in (docs/contract.md section 2)."""
    dtype: np.dtype        # the float type of the container
    uint: np.dtype         # the unsigned integer type of the same width
    P: int                 # mantissa bits
    bias: int              # bit pattern of 1.0
    quiet_nan: int         # canonical quiet NaN pattern

    @property
    def width(self):
        return self.dtype.itemsize * 8

    @property
    def sign_bit(self):
        return 1 << (self.width - 1)

    @property
    def inf(self):
        exponent_bits = self.width - 1 - self.P
        return ((1 << exponent_bits) - 1) << self.P

    @property
    def smallest_normal(self):
        return 1 << self.P


FLOAT32 = Container(np.dtype(np.float32), np.dtype(np.uint32), 23, 0x3F800000,
                    0x7FC00000)
FLOAT64 = Container(np.dtype(np.float64), np.dtype(np.uint64), 52,
                    0x3FF0000000000000, 0x7FF8000000000000)

# mantissa width of each input format that has a float32 container
_NARROW_MANTISSA = {np.dtype(np.float16): 10, np.dtype(np.float32): 23}


def _register_ml_dtypes():
    try:
        import ml_dtypes
    except ImportError:  # the narrow ML formats are optional here
        return
    _NARROW_MANTISSA[np.dtype(ml_dtypes.bfloat16)] = 7
    _NARROW_MANTISSA[np.dtype(ml_dtypes.float8_e4m3fn)] = 3
    _NARROW_MANTISSA[np.dtype(ml_dtypes.float8_e5m2)] = 2


_register_ml_dtypes()


def container_for(dtype):
    """The container (docs/contract.md section 2) that computes inputs of `dtype`."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return FLOAT64
    if dtype in _NARROW_MANTISSA:
        return FLOAT32
    raise TypeError(f"L-Mul is not defined for dtype {dtype}")


def default_k(dtype):
    """k defaults to the mantissa width of the input format (docs/contract.md section 2)."""
    dtype = np.dtype(dtype)
    container_for(dtype)  # rejects dtypes L-Mul is not defined for
    return FLOAT64.P if dtype == np.float64 else _NARROW_MANTISSA[dtype]


def check_k(k, container):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"mantissa bits k must be an integer, got {k!r}")
    if not 1 <= k <= container.P:
        raise ValueError(f"mantissa bits k={k} is out of range 1..{container.P} "
                         f"for the {container.dtype} container")
    return int(k)


def l_of_k(k):
    """The offset exponent l(k) of the paper: k for k <= 3, 3 for k == 4, else 4."""
    if k <= 3:
        return k
    return 3 if k == 4 else 4


def round_to_k_bits(mag, c, k):
    """Round finite normal magnitudes (int64 bit patterns) to k mantissa bits,
    round-to-nearest, ties-to-even. A carry may raise the exponent, up to inf."""
    shift = c.P - k
    if shift == 0:
        return mag
    half = 1 << (shift - 1)
    lowest_kept = (mag >> shift) & 1
    return (mag + (half - 1) + lowest_kept) >> shift << shift


def lmul_bits(xbits, ybits, c, k):
    """L-Mul on container bit patterns (uint arrays); returns container bits.

    Follows docs/contract.md section 3 step by step. Magnitudes are kept as int64 for
    the float32 container; the float64 sums are arranged so that no
    intermediate leaves the int64 range.
    """
    k = check_k(k, c)
    xbits = np.asarray(xbits, c.uint)
    ybits = np.asarray(ybits, c.uint)
    mag_mask = c.sign_bit - 1
    sign = (xbits ^ ybits) & np.asarray(c.sign_bit, c.uint)
    ax = (xbits & np.asarray(mag_mask, c.uint)).astype(np.int64)
    ay = (ybits & np.asarray(mag_mask, c.uint)).astype(np.int64)

    # step 1: subnormals are zeros (DAZ), then finite non-zeros round to k bits
    ax = np.where(ax < c.smallest_normal, 0, ax)
    ay = np.where(ay < c.smallest_normal, 0, ay)
    ax = np.where((ax > 0) & (ax < c.inf), round_to_k_bits(ax, c, k), ax)
    ay = np.where((ay > 0) & (ay < c.inf), round_to_k_bits(ay, c, k), ay)

    x_nan, y_nan = ax > c.inf, ay > c.inf
    x_inf, y_inf = ax == c.inf, ay == c.inf
    x_zero, y_zero = ax == 0, ay == 0
    is_nan = x_nan | y_nan | (x_inf & y_zero) | (x_zero & y_inf)
    is_inf = ~is_nan & (x_inf | y_inf)
    is_zero = ~is_nan & ~is_inf & (x_zero | y_zero)
    both_normal = ~(is_nan | is_inf | is_zero)

    # step 6: R = |X| + |Y| - bias + 2^(P - l(k)), compared without overflow
    ex = ax - c.bias + (1 << (c.P - l_of_k(k)))      # |X| - bias + offset
    overflow = ex >= c.inf - ay                        # R >= inf pattern
    underflow = ex < c.smallest_normal - ay            # R < smallest normal
    in_range = both_normal & ~overflow & ~underflow
    r = np.where(in_range, np.where(in_range, ex, 0) + np.where(in_range, ay, 0), 0)

    mag = np.where(in_range, r, 0)
    mag = np.where(is_inf | (both_normal & overflow), c.inf, mag)
    out = sign | mag.astype(c.uint)
    return np.where(is_nan, np.asarray(c.quiet_nan, c.uint), out).astype(c.uint)


def result_dtype(dtype):
    """docs/contract.md section 3: float8 products are float32, others keep their format."""
    dtype = np.dtype(dtype)
    if dtype.itemsize == 1:
        return np.dtype(np.float32)
    return dtype


def lmul(x, y, k=None):
    """L-Mul of two arrays (broadcast), per docs/contract.md. Mixed dtypes follow NumPy's
    promotion; k defaults to the mantissa width of the promoted format."""
    x = np.asarray(x)
    y = np.asarray(y)
    fmt = np.result_type(x, y)
    c = container_for(fmt)
    if k is None:
        k = default_k(fmt)
    xbits = x.astype(fmt).astype(c.dtype).view(c.uint)
    ybits = y.astype(fmt).astype(c.dtype).view(c.uint)
    bits = lmul_bits(*np.broadcast_arrays(xbits, ybits), c, k)
    with np.errstate(over="ignore"):  # float16 results beyond range become inf
        return bits.view(c.dtype).astype(result_dtype(fmt))


def exact_products_sum(a, b, k=None):
    """float64 sum over the inner index of the exact L-Mul products of a @ b,
    and the sum of their magnitudes: the S and sum |p| of docs/contract.md section 4."""
    a = np.asarray(a)
    b = np.asarray(b)
    products = lmul(a[..., :, :, None], b[..., None, :, :], k).astype(np.float64)
    return products.sum(axis=-2), np.abs(products).sum(axis=-2)
