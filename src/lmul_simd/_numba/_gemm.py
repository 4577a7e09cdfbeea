"""L-Mul GEMM in Numba: C = sum_k lmul(A[i,k], B[k,j]) (SPEC.md section 5).

The operands are packed once, in parallel: DAZ and rounding to k bits, the
bias and the 2^-l(k) offset folded into A, and B's zeros made a sentinel
that lands below the normal range. When no product can overflow and no
operand is infinite or NaN (the usual case), a product is then an integer
add, an xor for the sign, a compare (flush to zero) and a float add into the
accumulator; otherwise every product takes the full elementwise rules.
The loops are blocked (KC x NC panels of B stay in cache) and run as a
`prange` over (batch, block of rows) tasks. Accumulation is in the container:
float32 for float32 and narrower inputs, float64 for float64.
"""
import numpy as np
from numba import njit, prange

from ..reference import FLOAT32, FLOAT64
from ._bits import OPS32, OPS64, l_of_k

ROWS_PER_TASK, KC, NC = 16, 256, 256


def make_gemm(c, ops):
    """gemm(a, b, k) for (batch, M, K) and (batch, K, N) container arrays of
    container `c`: the (batch, M, N) L-Mul products' sums in c.dtype."""
    U, S = c.uint.type, np.dtype(f"int{c.width}").type
    FLOAT = c.dtype.type
    SIGN, MAG, INF = U(c.sign_bit), U(c.sign_bit - 1), U(c.inf)
    MIN_NORMAL, BIAS, P = S(c.smallest_normal), S(c.bias), c.P
    OVERFLOW_AT = U(c.bias + c.inf)
    # |B| of a zero: with any folded |A| the sum stays below MIN_NORMAL
    ZERO_SENTINEL = S(-(1 << (c.width - 2)))
    round_magnitude, lmul_bits = ops.round_magnitude, ops.lmul_bits

    @njit(cache=True, parallel=True)
    def rounded_bits(x, k):
        """Sign | magnitude after DAZ and rounding to k bits, per element."""
        flat = x.reshape(-1)
        out = np.empty(flat.size, dtype=U)
        for i in prange(flat.size):
            bits = U(FLOAT(flat[i]).view(U))
            out[i] = U(U(bits & SIGN) | round_magnitude(U(bits & MAG), k))
        return out.reshape(x.shape)

    @njit(cache=True)
    def fast_path_holds(a_bits, b_bits, k):
        """No operand infinite or NaN and no product beyond the normal range."""
        a_max = U(0)
        for v in a_bits.reshape(-1):
            a_max = max(a_max, U(v & MAG))
        b_max = U(0)
        for v in b_bits.reshape(-1):
            b_max = max(b_max, U(v & MAG))
        if a_max >= INF or b_max >= INF:
            return False
        offset = U(1) << U(P - l_of_k(k))
        return U(a_max + b_max + offset) < OVERFLOW_AT

    @njit(cache=True, inline="always")
    def fold_a(bits, k):
        """|A| - bias + offset (a signed integer) and A's sign bit."""
        offset = S(1) << S(P - l_of_k(k))
        return S(S(bits & MAG) - BIAS + offset), S(bits & SIGN)

    @njit(cache=True, parallel=True)
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

    @njit(cache=True, parallel=True)
    def magnitudes_and_signs(b_panels):
        """|B| (ZERO_SENTINEL for zeros, so that any folded |A| plus it
        flushes to zero) and B's sign bits."""
        flat = b_panels.reshape(-1)
        mag, sign = np.empty_like(flat), np.empty_like(flat)
        for i in prange(flat.size):
            m = S(flat[i] & S(MAG))
            mag[i] = ZERO_SENTINEL if m == 0 else m
            sign[i] = S(flat[i] & S(SIGN))
        return mag.reshape(b_panels.shape), sign.reshape(b_panels.shape)

    @njit(cache=True, inline="always")
    def as_float(bits):
        return S(bits).view(FLOAT)

    @njit(cache=True)
    def fast_update(acc, a_row, b_mag, b_sign, k, k0, k1):
        """acc[j] += lmul(a_row[kk], B[kk, j]) for kk in k0..k1 over a panel:
        an integer add, the signs, a flush-to-zero select and a float add."""
        for kk in range(k0, k1):
            if U(a_row[kk] & MAG) == 0:
                continue           # a zero operand: every product is zero
            a_mag, a_sign = fold_a(a_row[kk], k)
            mag_row, sign_row = b_mag[kk], b_sign[kk]
            for j in range(NC):
                r = S(a_mag + mag_row[j])
                p = as_float(S(r ^ sign_row[j] ^ a_sign))
                acc[j] += p if r >= MIN_NORMAL else FLOAT(0)

    @njit(cache=True)
    def general_update(acc, a_row, b_bits, k, k0, k1):
        """The same sums with the full elementwise rules for every product."""
        for kk in range(k0, k1):
            a, b_row = a_row[kk], b_bits[kk]
            for j in range(NC):
                acc[j] += as_float(lmul_bits(a, U(b_row[j]), k))

    @njit(cache=True, parallel=True)
    def blocked_gemm(a_bits, b_first, b_second, k, fast, out):
        """out[b, i, panel] += the L-Mul products of row i of a_bits[b] with
        a panel of B (fast: magnitudes and signs; else: the bits), in tasks
        of ROWS_PER_TASK rows; each KC x NC block of B is reused by the rows."""
        batch, M, K = a_bits.shape
        n_panels = out.shape[2]
        row_blocks = (M + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        for task in prange(batch * row_blocks):
            bi, i0 = task // row_blocks, (task % row_blocks) * ROWS_PER_TASK
            for jb in range(n_panels):
                for k0 in range(0, K, KC):
                    k1 = min(k0 + KC, K)
                    for i in range(i0, min(i0 + ROWS_PER_TASK, M)):
                        if fast:
                            fast_update(out[bi, i, jb], a_bits[bi, i],
                                        b_first[bi, jb], b_second[bi, jb], k, k0, k1)
                        else:
                            general_update(out[bi, i, jb], a_bits[bi, i],
                                           b_first[bi, jb], k, k0, k1)

    @njit(cache=True)
    def gemm(a, b, k):
        """(batch, M, K) @ (batch, K, N) container arrays -> (batch, M, N)."""
        a_bits, b_bits = rounded_bits(a, k), rounded_bits(b, k)
        batch, M, N = a.shape[0], a.shape[1], b.shape[2]
        out = np.zeros((batch, M, (N + NC - 1) // NC, NC), dtype=FLOAT)
        b_panels = panels(b_bits)
        if fast_path_holds(a_bits, b_bits, k):
            b_mag, b_sign = magnitudes_and_signs(b_panels)
            blocked_gemm(a_bits, b_mag, b_sign, k, True, out)
        else:
            blocked_gemm(a_bits, b_panels, b_panels, k, False, out)
        return out.reshape(batch, M, -1)[:, :, :N]

    return gemm


gemm32 = make_gemm(FLOAT32, OPS32)
gemm64 = make_gemm(FLOAT64, OPS64)
