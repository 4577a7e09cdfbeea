"""L-Mul on bit patterns (docs/contract.md section 3) as scalar @njit functions.

One source serves both containers: `make_container_ops(container)` closes over
the container's constants, so Numba sees them as compile-time constants. All
of these are inline="always": they are compiled (and cached) as part of their
callers, the ufunc loops, the GEMM and lmul_simd.nb. The steps mirror the
branch-free lanes of the C kernels: every case is a compare and a select,
never a jump, except the rounding step, which is skipped when k == P (a
constant in each ufunc loop, so LLVM removes the branch).

Numba's disk cache does not notice edits to a called function in another
file: after changing this file, delete the *.nbi / *.nbc files under
src/lmul_simd/**/__pycache__ (an installed release gets new files, so its
cache is rebuilt anyway).
"""
from types import SimpleNamespace

import ml_dtypes
import numpy as np
from numba import njit

from .. import reference
from ..reference import FLOAT32, FLOAT64


l_of_k = njit(cache=True, inline="always")(reference.l_of_k)


def make_container_ops(c):
    """The @njit bit operations of container `c` (reference.FLOAT32 or
    FLOAT64), closed over its constants:

    lmul_bits(x, y, k): L-Mul of two bit patterns (np.uint32 or np.uint64);
    round_magnitude(mag, k): |x| rounded to k bits, subnormals made zero.
    k must already be valid (1..P); the result is undefined otherwise."""
    U = c.uint.type
    P = c.P
    SIGN, MAG, INF = U(c.sign_bit), U(c.sign_bit - 1), U(c.inf)
    MIN_NORMAL, BIAS, QUIET_NAN = U(c.smallest_normal), U(c.bias), U(c.quiet_nan)
    OVERFLOW_AT, UNDERFLOW_AT = U(c.bias + c.inf), U(c.bias + c.smallest_normal)
    ZERO, ONE = U(0), U(1)

    @njit(cache=True, inline="always")
    def round_to_k(mag, k):
        """Round-to-nearest-even to k mantissa bits; no-op when k == P."""
        shift = U(P - k)
        if shift == ZERO:
            return mag
        round_add = (ONE << (shift - ONE)) - ONE
        round_mask = MAG & ~((ONE << shift) - ONE)
        lowest_kept = (mag >> shift) & ONE
        return U(U(mag + round_add + lowest_kept) & round_mask)

    @njit(cache=True, inline="always")
    def round_magnitude(mag, k):
        """Step 1 of docs/contract.md section 3 on a magnitude: DAZ, then rounding of
        finite values (NaN and infinity stay as they are)."""
        rounded = round_to_k(mag, k)
        rounded = mag if mag >= INF else rounded
        return ZERO if mag < MIN_NORMAL else rounded

    @njit(cache=True, inline="always")
    def lmul_bits(x, y, k):
        offset = ONE << U(P - l_of_k(k))
        sign = U((x ^ y) & SIGN)
        ax, ay = U(x & MAG), U(y & MAG)
        x_zero, y_zero = ax < MIN_NORMAL, ay < MIN_NORMAL
        any_nan = (ax > INF) | (ay > INF)
        ax, ay = round_to_k(ax, k), round_to_k(ay, k)
        x_inf, y_inf = ax == INF, ay == INF
        nan = any_nan | (x_inf & y_zero) | (x_zero & y_inf)
        # t = |X| + |Y| + offset stays below 2^width; R = t - bias, clamped
        t = U(ax + ay + offset)
        mag = U(min(t, OVERFLOW_AT) - BIAS)
        mag = ZERO if (t < UNDERFLOW_AT) | x_zero | y_zero else mag
        mag = INF if x_inf | y_inf else mag
        return QUIET_NAN if nan else U(mag | sign)

    return SimpleNamespace(lmul_bits=lmul_bits, round_magnitude=round_magnitude)


OPS32 = make_container_ops(FLOAT32)
OPS64 = make_container_ops(FLOAT64)
lmul32_bits = OPS32.lmul_bits
lmul64_bits = OPS64.lmul_bits

# ------------------------------------------ narrow formats <-> float32
_U16, _U32 = np.uint16, np.uint32
_FLOAT_INF = _U32(0x7F800000)
_HALF_MAX_PLUS = _U32((127 + 16) << 23)          # 65536.0: rounds to infinity
_HALF_MIN_NORMAL = _U32(113 << 23)               # 2^-14
_DENORM_MAGIC = _U32(((127 - 15) + (23 - 10) + 1) << 23)   # 0.5: aligns subnormals
_DENORM_MAGIC_FLOAT = _DENORM_MAGIC.view(np.float32)
_REBIAS_ROUND = _U32((((15 - 127) << 23) + 0xFFF) & 0xFFFFFFFF)


# The narrow formats as lmul_fp8_format of the C kernels, widened to float32
# bits by narrow_to_float_bits: (width, shift, normal_add, special_from,
# special_add, subnormal_below, subnormal_unit).
FLOAT16 = (16, 13, 112 << 23, 0x7C00, 224 << 23, 1 << 10, 2.0 ** -24)
BFLOAT16 = (16, 16, 0, 0x7F80, 0, 0, 1.0)   # the top half of a float32
FLOAT8_E4M3FN = (8, 20, 120 << 23, 0x7F, 240 << 23, 1 << 3, 2.0 ** -9)
FLOAT8_E5M2 = (8, 21, 112 << 23, 0x7C, 224 << 23, 1 << 2, 2.0 ** -16)
WIDENING = {np.dtype(np.float16): FLOAT16, np.dtype(ml_dtypes.bfloat16): BFLOAT16,
            np.dtype(ml_dtypes.float8_e4m3fn): FLOAT8_E4M3FN,
            np.dtype(ml_dtypes.float8_e5m2): FLOAT8_E5M2}


@njit(cache=True, inline="always")
def narrow_to_float_bits(v, fmt):
    """Bits of a value of the narrow format `fmt` (one of the tuples above)
    -> float32 bits, exactly: magnitudes m >= special_from are infinities and
    NaNs, m < subnormal_below subnormals (m units, exact normal floats), the
    rest normal (the exponent rebiased by one add). Constant-folded per format."""
    width, shift, normal_add, special_from, special_add, subnormal_below, unit = fmt
    v = _U32(v)
    sign = _U32(_U32(v >> _U32(width - 1)) << _U32(31))
    m = _U32(v & _U32((1 << (width - 1)) - 1))
    normal = _U32(_U32(m << _U32(shift)) + _U32(normal_add))
    special = _U32(_U32(m << _U32(shift)) + _U32(special_add))
    subnormal = np.float32(np.float32(m) * np.float32(unit)).view(_U32)
    bits = normal if m >= _U32(subnormal_below) else subnormal
    bits = special if m >= _U32(special_from) else bits
    return _U32(bits | sign)


@njit(cache=True, inline="always")
def float_to_half_bits(f):
    """float32 bits -> float16 bits, round-to-nearest-even, as NumPy's cast
    (beyond range: infinity; below it: the nearest subnormal or zero)."""
    sign = _U32(f & _U32(0x80000000))
    f = _U32(f ^ sign)
    nan_or_inf = _U32(0x7E00) if f > _FLOAT_INF else _U32(0x7C00)
    magic_sum = np.float32(_U32(f).view(np.float32) + _DENORM_MAGIC_FLOAT)
    small = _U32(magic_sum.view(_U32) - _DENORM_MAGIC)
    mant_odd = _U32((f >> _U32(13)) & _U32(1))
    normal = _U32(_U32(f + _REBIAS_ROUND + mant_odd) >> _U32(13))
    half = normal if f >= _HALF_MIN_NORMAL else small
    half = nan_or_inf if f >= _HALF_MAX_PLUS else half
    return _U16(half | (sign >> _U32(16)))


@njit(cache=True, inline="always")
def float_to_bfloat16_bits(f):
    """float32 bits -> bfloat16 bits, round-to-nearest-even (L-Mul's NaNs are
    canonical, 0x7FC00000, so they need no special case)."""
    return _U16(_U32(f + _U32(0x7FFF) + ((f >> _U32(16)) & _U32(1))) >> _U32(16))


@njit(cache=True, inline="always")
def lmul_narrow_bits(x, y, k, fmt):
    """L-Mul of two bit patterns of the narrow format `fmt` in the float32
    container: the float32 result's bits."""
    return lmul32_bits(narrow_to_float_bits(x, fmt), narrow_to_float_bits(y, fmt), k)


@njit(cache=True, inline="always")
def lmul16_bits(x, y, k):
    """L-Mul of two float16 bit patterns, rounded back to float16."""
    return float_to_half_bits(lmul_narrow_bits(x, y, k, FLOAT16))


@njit(cache=True, inline="always")
def lmul_bfloat16_bits(x, y, k):
    """L-Mul of two bfloat16 bit patterns, rounded back to bfloat16."""
    return float_to_bfloat16_bits(lmul_narrow_bits(x, y, k, BFLOAT16))


@njit(cache=True, inline="always")
def lmul_float8(x, y, k, fmt):
    """L-Mul of two float8 bit patterns (fmt FLOAT8_E4M3FN or FLOAT8_E5M2):
    the float32 product (docs/contract.md section 3, the result's format)."""
    return _U32(lmul_narrow_bits(x, y, k, fmt)).view(np.float32)


@njit(cache=True, inline="always")
def lmul_float32(x, y, k):
    """L-Mul of two float32 values (k valid for the float32 container)."""
    bits = lmul32_bits(np.float32(x).view(np.uint32), np.float32(y).view(np.uint32), k)
    return np.uint32(bits).view(np.float32)


@njit(cache=True, inline="always")
def lmul_float64(x, y, k):
    """L-Mul of two float64 values (k valid for the float64 container)."""
    bits = lmul64_bits(np.float64(x).view(np.uint64), np.float64(y).view(np.uint64), k)
    return np.uint64(bits).view(np.float64)
