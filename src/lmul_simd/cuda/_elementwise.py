"""Elementwise L-Mul kernels on container bit patterns (integer-only).

One device function per container follows docs/contract.md section 3 without branches
that depend on the data, the same steps as the AVX-512 kernels: DAZ and NaN
are classified on the raw magnitudes, finite magnitudes are rounded to k bits,
and R = |X| + |Y| + offset - bias is clamped to [0, inf] on the unsigned sum
(no intermediate wraps, in the simulator either).
"""
import functools

import numpy as np
from numba import cuda

from ..reference import l_of_k
from ._bits import SIMULATOR

# the simulator runs a Python thread per CUDA thread: few, each looping longer
THREADS, MAX_BLOCKS = (32, 4) if SIMULATOR else (256, 8192)


def rounding_params(c, k):
    """(shift, add, mask, offset) for k bits, typed as the container's uint:
    round-half-to-even of the low P - k bits, and 2^(P - l(k))."""
    uint = c.uint.type
    shift = c.P - k
    add = (1 << (shift - 1)) - 1 if shift else 0
    mask = ((1 << c.width) - 1) & ~((1 << shift) - 1)
    offset = 1 << (c.P - l_of_k(k))
    return uint(shift), uint(add), uint(mask), uint(offset)


@functools.cache
def lmul_device_functions(c):
    """(round_magnitude, lmul_bits) device functions for container c."""
    U = c.uint.type
    ZERO, ONE = U(0), U(1)
    SIGN, MAG = U(c.sign_bit), U(c.sign_bit - 1)
    INF, MIN_NORMAL, BIAS, QNAN = U(c.inf), U(c.smallest_normal), U(c.bias), U(c.quiet_nan)
    UNDERFLOW_BELOW = U(c.bias + c.smallest_normal)   # t below: R < smallest normal
    OVERFLOW_FROM = U(c.bias + c.inf)                  # t from here: R >= inf

    @cuda.jit(device=True)
    def round_magnitude(mag, shift, add, mask):
        """Round-to-nearest-even to k bits; mag <= inf, so no wrap."""
        lowest_kept = U(U(mag >> shift) & ONE)
        return U(U(U(mag + add) + lowest_kept) & mask)

    @cuda.jit(device=True)
    def lmul_bits(x, y, shift, add, mask, offset):
        sign = U(U(x ^ y) & SIGN)
        ax = U(x & MAG)
        ay = U(y & MAG)
        x_zero = ax < MIN_NORMAL
        y_zero = ay < MIN_NORMAL
        any_nan = (ax > INF) | (ay > INF)
        ax = min(ax, INF)                  # NaN payloads out of the sums below
        ay = min(ay, INF)
        if shift != ZERO:                  # infinity has no low bits to round
            ax = round_magnitude(ax, shift, add, mask)
            ay = round_magnitude(ay, shift, add, mask)
        x_inf = ax == INF
        y_inf = ay == INF
        nan = any_nan | (x_inf & y_zero) | (x_zero & y_inf)
        t = U(U(ax + ay) + offset)         # R + bias, below 2^width
        mag = U(min(max(t, BIAS), OVERFLOW_FROM) - BIAS)
        if (t < UNDERFLOW_BELOW) | x_zero | y_zero:
            mag = ZERO
        if x_inf | y_inf:
            mag = INF
        return QNAN if nan else U(mag | sign)

    return round_magnitude, lmul_bits


@functools.cache
def elementwise_kernel(c):
    """kernel[blocks, THREADS](x_bits, y_bits, out_bits, *rounding_params)
    over 1-D arrays of the container's uint type, grid-stride."""
    _, lmul_bits = lmul_device_functions(c)

    @cuda.jit
    def lmul_kernel(x, y, out, shift, add, mask, offset):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = lmul_bits(x[i], y[i], shift, add, mask, offset)

    return lmul_kernel


def launch_elementwise(c, k, x_bits, y_bits, out_bits, threads=THREADS,
                       max_blocks=MAX_BLOCKS):
    """L-Mul of two flat device bit arrays into a third."""
    n = out_bits.size
    if n == 0:
        return
    blocks = min(-(-n // threads), max_blocks)
    elementwise_kernel(c)[blocks, threads](x_bits, y_bits, out_bits,
                                           *rounding_params(c, k))
