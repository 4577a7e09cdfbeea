"""L-Mul GEMM in Numba: C = sum_k lmul(A[i,k], B[k,j]) (SPEC.md section 5).

The operands are packed once, in parallel: narrow formats (float16, bfloat16,
float8) widened to float32 bits, DAZ and rounding to k bits, B cut
into contiguous column panels. When no operand is infinite or NaN and no
product can overflow (the usual case), the bias and the 2^-l(k) offset are
folded into A and zeros become sentinels chosen from the data so that any
sum with them lands below the normal range; a product is then an integer
add, two xors for the sign, a compare (flush to zero) and a float add.
Otherwise every product takes the full elementwise rules.
The loops are blocked (KC x NC panels of B stay in cache) and run as a
`prange` over (batch, block of rows) tasks. Accumulation is in the container:
float32 for float32 and narrower inputs, float64 for float64.

The functions below are templates over the container: their constants
(U, S, FLOAT, SIGN, ...) are globals that `_specialize` binds once per
container, in a namespace of its own. (Closures over those constants would
do the same, but Numba's disk cache never matches a closure that holds other
jitted functions, and the GEMM would be recompiled in every process.)
"""
import types

import numpy as np
from numba import njit, prange

from ..reference import FLOAT32, FLOAT64
from ._bits import OPS32, OPS64, l_of_k, narrow_to_float_bits

ROWS_PER_TASK, KC, NC = 16, 256, 256

# bound per container by _specialize; the templates read them as globals
U = S = FLOAT = SIGN = MAG = INF = MIN_NORMAL = BIAS = P = OVERFLOW_AT = None
round_magnitude = lmul_bits = None

_TEMPLATES = []


def _template(**options):
    """Marks a function as a template, compiled per container with `options`."""
    def record(function):
        _TEMPLATES.append((function, options))
        return function
    return record


def _constants(c, ops):
    U = c.uint.type
    S = np.dtype(f"int{c.width}").type
    return dict(U=U, S=S, FLOAT=c.dtype.type, SIGN=U(c.sign_bit),
                MAG=U(c.sign_bit - 1), INF=U(c.inf), MIN_NORMAL=S(c.smallest_normal),
                BIAS=S(c.bias), P=c.P, OVERFLOW_AT=U(c.bias + c.inf),
                round_magnitude=ops.round_magnitude, lmul_bits=ops.lmul_bits)


@_template()
def container_bits(v, fmt):
    """The container bits of v: a container value (fmt None) or the bit
    pattern of a value of the narrow format fmt (float32 container only)."""
    if fmt is None:
        return U(FLOAT(v).view(U))
    return U(narrow_to_float_bits(v, fmt))


@_template(parallel=True)
def rounded_bits(x, k, fmt):
    """Sign | magnitude after DAZ and rounding to k bits, per element, of the
    values (fmt None) or narrow bit patterns (see container_bits) x."""
    flat = x.reshape(-1)
    out = np.empty(flat.size, dtype=U)
    for i in prange(flat.size):
        bits = container_bits(flat[i], fmt)
        out[i] = U(U(bits & SIGN) | round_magnitude(U(bits & MAG), k))
    return out.reshape(x.shape)


@_template()
def max_magnitude(bits):
    largest = U(0)
    for v in bits.reshape(-1):
        largest = max(largest, U(v & MAG))
    return largest


@_template(parallel=True)
def panels(b_bits):
    """B's bits cut into column panels of NC (the last one padded with
    zeros): (batch, panel, K, NC), each panel row contiguous."""
    batch, K, N = b_bits.shape
    n_panels = (N + NC - 1) // NC
    out = np.zeros((batch, n_panels, K, NC), dtype=S)
    for t in prange(batch * n_panels * K):
        bi, jb, kk = t // (n_panels * K), (t // K) % n_panels, t % K
        for j in range(min(NC, N - jb * NC)):
            out[bi, jb, kk, j] = S(b_bits[bi, kk, jb * NC + j])
    return out


@_template(parallel=True)
def fold(bits, subtract, zero):
    """(|x| - subtract, or `zero` for zeros) and the sign bits."""
    flat = bits.reshape(-1)
    mag = np.empty(flat.size, dtype=S)
    sign = np.empty(flat.size, dtype=S)
    for i in prange(flat.size):
        m = S(S(flat[i]) & S(MAG))
        mag[i] = zero if m == 0 else S(m - subtract)
        sign[i] = S(S(flat[i]) & S(SIGN))
    return mag.reshape(bits.shape), sign.reshape(bits.shape)


@_template(inline="always")
def as_float(bits):
    return S(bits).view(FLOAT)


@_template(inline="always")
def product(a_mag, a_sign, b_mag, b_sign):
    """A folded product: R = (|A| - bias + offset) + |B|, zero below normal."""
    r = S(a_mag + b_mag)
    p = as_float(S(r ^ b_sign ^ a_sign))
    return p if r >= MIN_NORMAL else FLOAT(0)


@_template()
def fast_update(acc, a_mag, a_sign, b_mag, b_sign, k0, k1):
    """acc[j] += product(A[kk], B[kk, j]) for kk in k0..k1 over a panel,
    four kk at a time so that acc is loaded and stored once per four."""
    kk = k0
    while kk + 4 <= k1:
        m0, m1, m2, m3 = b_mag[kk], b_mag[kk + 1], b_mag[kk + 2], b_mag[kk + 3]
        s0, s1, s2, s3 = b_sign[kk], b_sign[kk + 1], b_sign[kk + 2], b_sign[kk + 3]
        am0, am1, am2, am3 = a_mag[kk], a_mag[kk + 1], a_mag[kk + 2], a_mag[kk + 3]
        as0, as1, as2, as3 = a_sign[kk], a_sign[kk + 1], a_sign[kk + 2], a_sign[kk + 3]
        for j in range(NC):
            acc[j] += ((product(am0, as0, m0[j], s0[j])
                        + product(am1, as1, m1[j], s1[j]))
                       + (product(am2, as2, m2[j], s2[j])
                          + product(am3, as3, m3[j], s3[j])))
        kk += 4
    for kk in range(kk, k1):
        am, as_, m, s = a_mag[kk], a_sign[kk], b_mag[kk], b_sign[kk]
        for j in range(NC):
            acc[j] += product(am, as_, m[j], s[j])


@_template()
def general_update(acc, a_bits, b_bits, k, k0, k1):
    """The same sums with the full elementwise rules for every product."""
    for kk in range(k0, k1):
        a, b_row = a_bits[kk], b_bits[kk]
        for j in range(NC):
            acc[j] += as_float(lmul_bits(U(a), U(b_row[j]), k))


@_template(parallel=True)
def blocked_gemm(a_first, a_second, b_first, b_second, k, fast, out):
    """out[b, i, panel] += the L-Mul products of row i of A[b] with a panel
    of B (fast: folded magnitudes and signs; else: A's and B's bits), in
    tasks of ROWS_PER_TASK rows; each KC x NC block of B is reused by all the
    rows of a task. A batch of 1 broadcasts."""
    M, K = a_first.shape[1], a_first.shape[2]
    batch, n_panels = out.shape[0], out.shape[2]
    row_blocks = (M + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    for task in prange(batch * row_blocks):
        bi, i0 = task // row_blocks, (task % row_blocks) * ROWS_PER_TASK
        ai = bi if a_first.shape[0] > 1 else 0
        bj = bi if b_first.shape[0] > 1 else 0
        for jb in range(n_panels):
            for k0 in range(0, K, KC):
                k1 = min(k0 + KC, K)
                for i in range(i0, min(i0 + ROWS_PER_TASK, M)):
                    if fast:
                        fast_update(out[bi, i, jb], a_first[ai, i], a_second[ai, i],
                                    b_first[bj, jb], b_second[bj, jb], k0, k1)
                    else:
                        general_update(out[bi, i, jb], a_first[ai, i],
                                       b_first[bj, jb], k, k0, k1)


@_template()
def gemm(a, b, k, fmt):
    """(batch, M, K) @ (batch, K, N) -> (batch, M, N) container array; a and b
    hold container values (fmt None) or the bit patterns of the narrow format
    fmt, widened as they are packed. An operand with a batch of 1 is broadcast."""
    a_bits, b_bits = rounded_bits(a, k, fmt), rounded_bits(b, k, fmt)
    batch, M, N = max(a.shape[0], b.shape[0]), a.shape[1], b.shape[2]
    out = np.zeros((batch, M, (N + NC - 1) // NC, NC), dtype=FLOAT)
    b_panels = panels(b_bits)
    a_max, b_max = max_magnitude(a_bits), max_magnitude(b_bits)
    offset = U(1) << U(P - l_of_k(k))
    if a_max < INF and b_max < INF and U(a_max + b_max + offset) < OVERFLOW_AT:
        # sentinels: any folded |A| + B's zero, and A's zero + any |B| (or
        # B's zero), stay below MIN_NORMAL without integer overflow
        a_shift = S(BIAS - S(offset))
        b_zero = S(MIN_NORMAL - 1 - (S(a_max) - a_shift))
        a_zero = S(MIN_NORMAL - 1 - max(S(b_max), b_zero))
        a_mag, a_sign = fold(a_bits, a_shift, a_zero)
        b_mag, b_sign = fold(b_panels, S(0), b_zero)
        blocked_gemm(a_mag, a_sign, b_mag, b_sign, k, True, out)
    else:
        a_signed = a_bits.view(S)
        blocked_gemm(a_signed, a_signed, b_panels, b_panels, k, False, out)
    return out.reshape(batch, M, -1)[:, :, :N]


def _specialize(c, ops):
    """The templates compiled for container `c`, each with its own cache
    files; returns that container's gemm(a, b, k)."""
    namespace = dict(globals())
    namespace.update(_constants(c, ops))
    for function, options in _TEMPLATES:
        copy = types.FunctionType(function.__code__, namespace, function.__name__,
                                  function.__defaults__)
        copy.__qualname__ = f"{function.__name__}_{c.dtype}"
        copy.__doc__ = function.__doc__
        namespace[function.__name__] = njit(cache=True, **options)(copy)
    return namespace["gemm"]


gemm32 = _specialize(FLOAT32, OPS32)
gemm64 = _specialize(FLOAT64, OPS64)
