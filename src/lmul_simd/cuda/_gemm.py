"""Tiled L-Mul GEMM: out[z] = sum_k lmul(a[z, i, k], b[z, k, j]).

Each block computes a BM x BN tile of one output matrix, each thread TM x TN
outputs held in registers (rows in groups of up to 4 consecutive ones, the
groups TY*4 apart; columns likewise), so that a quarter warp's reads cover
the 32 banks. Two shared-memory buffers alternate: while one K-step is
accumulated, the next one's operands travel from global memory to registers.
The operands of a K-step are prepared once, on their way into shared memory:
subnormals become zeros of their sign (DAZ), finite values are rounded to k
bits, and B's patterns get offset - bias folded in (modulo 2^width, sign bit
included).

A tile pair whose operands are all "tame" (exponents in the middle of the
range, so that no product of two of them can leave the normal range) takes
the fast path: one integer add gives the product's bit pattern, sign
included, since the two sign bits add modulo 2 at the top. A tile pair of
tame operands and zeros (ReLU outputs, the ragged last K-step, subnormals
after DAZ) takes the sparse path: the same add, masked to +0 where an operand
is zero. Any other tile pair (infinities, NaNs, extreme exponents) takes the
general path, the full elementwise rules per product. The products are
accumulated in the container's float (float32, or float64).
"""
import functools
from typing import NamedTuple

import numpy as np
from numba import cuda

from ._bits import SIMULATOR, primitives
from ._elementwise import lmul_device_functions, rounding_params


class Tiles(NamedTuple):
    BM: int    # output rows per block
    BN: int    # output columns per block
    BK: int    # inner-dimension step held in shared memory
    TM: int    # output rows per thread
    TN: int    # output columns per thread
    registers: int = 0   # cap on registers per thread (0: the compiler's choice)
    unroll: int = 1      # K-steps of the fast path written out: 1, 2 or 4

    @property
    def threads(self):
        return (self.BM // self.TM) * (self.BN // self.TN)


GPU_TILES = {32: Tiles(128, 128, 8, 8, 8, unroll=4), 64: Tiles(64, 64, 8, 4, 4, unroll=4)}
SIMULATOR_TILES = Tiles(16, 8, 4, 8, 2, unroll=2)   # the simulator runs a Python thread per thread


def tiles_for(c):
    return SIMULATOR_TILES if SIMULATOR else GPU_TILES[c.width]


def tame_range(c):
    """Magnitudes [lo, hi) whose pairwise L-Mul products are always normal:
    biased exponents e with 2*lo_e - bias_e >= 1 and 2*(hi_e - 1) - bias_e + 1
    below the all-ones exponent."""
    bias_e = c.bias >> c.P
    lo_e = (bias_e + 1) // 2
    return lo_e << c.P, (lo_e + bias_e - 1) << c.P


@functools.cache
def gemm_kernel(c, tiles):
    """kernel[(ceil(N/BN), ceil(M/BM), batch), threads](a_bits, b_bits, out,
    shift, add, mask, offset, fold, unfold) with a_bits (Ba, M, K) and b_bits
    (Bb, K, N) container uints (Ba, Bb: 1 or batch), out (batch, M, N) floats,
    fold = offset - bias and unfold = bias - offset modulo 2^width."""
    U, F = c.uint.type, c.dtype.type
    BM, BN, BK, TM, TN, _, UNROLL = tiles
    assert UNROLL in (1, 2, 4) and BK % UNROLL == 0
    THREADS = tiles.threads
    TY, TX = BM // TM, BN // TN
    # a thread's rows: groups of GM consecutive ones, TY * GM apart (columns
    # likewise), so that its shared-memory reads can be 16-byte vectors and a
    # quarter warp's vectors cover all 32 banks
    GM, GN = min(4, TM), min(4, TN)
    A_STRIDE = BM + 4          # transposed A tile, padded against bank conflicts
    ZERO, ALL_ONES = U(0), U((1 << c.width) - 1)
    SIGN, MAG = U(c.sign_bit), U(c.sign_bit - 1)
    INF, MIN_NORMAL, PAD = U(c.inf), U(c.smallest_normal), U(c.bias)
    TAME_LO, TAME_HI = (U(v) for v in tame_range(c))
    round_magnitude, lmul_bits = lmul_device_functions(c)
    wrap_add, as_float = primitives(U, F)

    @cuda.jit(device=True)
    def prepare(v, shift, add, mask):
        """DAZ, then finite normals rounded to k bits: (bits, tame, zero)."""
        mag = U(v & MAG)
        if mag < MIN_NORMAL:
            return U(v & SIGN), False, True
        if (mag < INF) & (shift != ZERO):
            mag = round_magnitude(mag, shift, add, mask)
        tame = (mag >= TAME_LO) & (mag < TAME_HI)
        return U(U(v & SIGN) | mag), tame, False

    def tile_io(ROWS, COLS, K_AXIS, TRANSPOSED):
        """(fetch, stash) device functions for one operand's tile.

        fetch(src, z, r0, c0, staged): this thread's share of
        src[z, r0:r0+ROWS, c0:c0+COLS] into registers; 0 past the K end, 1.0
        past M or N (tame: a ragged M or N keeps the fast path).
        stash(staged, tile, shift, add, mask, fold): those operands prepared,
        `fold` added, into tile[row, col] (tile[col, row] if TRANSPOSED);
        (any of them neither tame nor zero, any of them zero)."""
        LOADS = ROWS * COLS // THREADS
        assert LOADS * THREADS == ROWS * COLS

        @cuda.jit(device=True)
        def position(r):
            idx = cuda.threadIdx.x + r * THREADS
            row = idx // COLS
            return row, idx - row * COLS

        @cuda.jit(device=True)
        def fetch(src, z, r0, c0, staged):
            interior = (r0 + ROWS <= src.shape[1]) & (c0 + COLS <= src.shape[2])
            for r in range(LOADS):
                row, col = position(r)
                if interior:       # the same for the whole block: no divergence
                    staged[r] = src[z, r0 + row, c0 + col]
                    continue
                row_out, col_out = r0 + row >= src.shape[1], c0 + col >= src.shape[2]
                v = PAD
                if (col_out if K_AXIS == 2 else row_out):
                    v = ZERO
                elif not (row_out | col_out):
                    v = src[z, r0 + row, c0 + col]
                staged[r] = v

        @cuda.jit(device=True)
        def stash(staged, tile, shift, add, mask, fold):
            wild = False
            zeros = False
            for r in range(LOADS):
                row, col = position(r)
                bits, tame, zero = prepare(staged[r], shift, add, mask)
                if TRANSPOSED:
                    tile[col, row] = wrap_add(bits, fold)
                else:
                    tile[row, col] = wrap_add(bits, fold)
                wild = wild | (not (tame | zero))
                zeros = zeros | zero
            return wild, zeros

        return LOADS, fetch, stash

    A_LOADS, fetch_a, stash_a = tile_io(BM, BK, 2, True)    # sA[k, m]: a column per k
    B_LOADS, fetch_b, stash_b = tile_io(BK, BN, 1, False)   # sB[k, n]

    @cuda.jit(device=True)
    def row_of(i, ty0):
        return ty0 + (i // GM) * (TY * GM) + i % GM

    @cuda.jit(device=True)
    def col_of(j, tx0):
        return tx0 + (j // GN) * (TX * GN) + j % GN

    @cuda.jit(device=True)
    def tame_step(sA, sB, acc, ra, rb, ma, mb, kk, ty0, tx0, zero_b):
        for i in range(TM):
            ra[i] = sA[kk, row_of(i, ty0)]
        for j in range(TN):
            rb[j] = sB[kk, col_of(j, tx0)]
        for i in range(TM):
            for j in range(TN):
                acc[i, j] += as_float(wrap_add(ra[i], rb[j]))

    @cuda.jit(device=True)
    def sparse_step(sA, sB, acc, ra, rb, ma, mb, kk, ty0, tx0, zero_b):
        """Tame operands and zeros: the tame sum, masked to +0 where an
        operand is zero (A's zeros have magnitude 0, B's the folded zero_b;
        no tame operand has either)."""
        for i in range(TM):
            ra[i] = sA[kk, row_of(i, ty0)]
            ma[i] = ZERO if U(ra[i] & MAG) == ZERO else ALL_ONES
        for j in range(TN):
            rb[j] = sB[kk, col_of(j, tx0)]
            mb[j] = ZERO if U(rb[j] & MAG) == zero_b else ALL_ONES
        for i in range(TM):
            for j in range(TN):
                acc[i, j] += as_float(U(wrap_add(ra[i], rb[j]) & U(ma[i] & mb[j])))

    def unrolled(step):
        """BK steps, UNROLL of them written out per iteration (the compiler
        keeps a loop of BK long steps rolled): their shared-memory addresses
        become constant offsets from one base."""
        @cuda.jit(device=True)
        def accumulate(sA, sB, acc, ra, rb, ma, mb, ty0, tx0, zero_b):
            for kk in range(0, BK, UNROLL):
                step(sA, sB, acc, ra, rb, ma, mb, kk, ty0, tx0, zero_b)
                if UNROLL >= 2:
                    step(sA, sB, acc, ra, rb, ma, mb, kk + 1, ty0, tx0, zero_b)
                if UNROLL == 4:
                    step(sA, sB, acc, ra, rb, ma, mb, kk + 2, ty0, tx0, zero_b)
                    step(sA, sB, acc, ra, rb, ma, mb, kk + 3, ty0, tx0, zero_b)

        return accumulate

    accumulate_tame = unrolled(tame_step)
    accumulate_sparse = unrolled(sparse_step)

    @cuda.jit(device=True)
    def accumulate_general(sA, sB, acc, ra, rb, products, ty0, tx0, offset, unfold):
        """The products go through a scratch array first: the compiler may
        keep their long loop rolled, while the short one that adds them into
        acc unrolls, so acc stays in registers."""
        for kk in range(BK):
            for i in range(TM):
                ra[i] = sA[kk, row_of(i, ty0)]
            for j in range(TN):
                rb[j] = wrap_add(sB[kk, col_of(j, tx0)], unfold)
            for i in range(TM):
                for j in range(TN):
                    products[i, j] = lmul_bits(ra[i], rb[j], ZERO, ZERO, ALL_ONES, offset)
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] += as_float(products[i, j])

    jit_options = {"max_registers": tiles.registers} if tiles.registers else {}

    @cuda.jit(**jit_options)
    def gemm(a, b, out, shift, add, mask, offset, fold, unfold):
        """Two shared-memory buffers: while one K-step is accumulated, the
        next one's operands are in flight from global memory to registers,
        then prepared into the other buffer. The block votes on each K-step's
        path: general if any operand is neither tame nor zero, else sparse
        if any is zero, else tame."""
        sA = cuda.shared.array((2, BK, A_STRIDE), U)
        sB = cuda.shared.array((2, BK, BN), U)
        staged_a = cuda.local.array(A_LOADS, U)
        staged_b = cuda.local.array(B_LOADS, U)
        acc = cuda.local.array((TM, TN), F)
        products = cuda.local.array((TM, TN), U)
        ra, ma = cuda.local.array(TM, U), cuda.local.array(TM, U)
        rb, mb = cuda.local.array(TN, U), cuda.local.array(TN, U)
        zero_b = U(fold & MAG)     # a zero of B, prepared
        z = cuda.blockIdx.z
        za = z if a.shape[0] > 1 else 0
        zb = z if b.shape[0] > 1 else 0
        m0, n0 = cuda.blockIdx.y * BM, cuda.blockIdx.x * BN
        ty0, tx0 = (cuda.threadIdx.x // TX) * GM, (cuda.threadIdx.x % TX) * GN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = 0
        fetch_a(a, za, m0, 0, staged_a)
        fetch_b(b, zb, 0, n0, staged_b)
        wild_a, zeros_a = stash_a(staged_a, sA[0], shift, add, mask, ZERO)
        wild_b, zeros_b = stash_b(staged_b, sB[0], shift, add, mask, fold)
        wild = cuda.syncthreads_or(np.int32(wild_a | wild_b))
        zeros = cuda.syncthreads_or(np.int32(zeros_a | zeros_b))
        cur = 0
        for k0 in range(0, a.shape[2], BK):
            more = k0 + BK < a.shape[2]
            if more:
                fetch_a(a, za, m0, k0 + BK, staged_a)
                fetch_b(b, zb, k0 + BK, n0, staged_b)
            if wild:
                accumulate_general(sA[cur], sB[cur], acc, ra, rb, products, ty0, tx0,
                                   offset, unfold)
            elif zeros:
                accumulate_sparse(sA[cur], sB[cur], acc, ra, rb, ma, mb, ty0, tx0, zero_b)
            else:
                accumulate_tame(sA[cur], sB[cur], acc, ra, rb, ma, mb, ty0, tx0, zero_b)
            wild_a, zeros_a, wild_b, zeros_b = False, False, False, False
            if more:
                wild_a, zeros_a = stash_a(staged_a, sA[1 - cur], shift, add, mask, ZERO)
                wild_b, zeros_b = stash_b(staged_b, sB[1 - cur], shift, add, mask, fold)
            wild = cuda.syncthreads_or(np.int32(wild_a | wild_b))
            zeros = cuda.syncthreads_or(np.int32(zeros_a | zeros_b))
            cur = 1 - cur
        for i in range(TM):
            for j in range(TN):
                row, col = m0 + row_of(i, ty0), n0 + col_of(j, tx0)
                if row < out.shape[1] and col < out.shape[2]:
                    out[z, row, col] = acc[i, j]

    return gemm


def launch_gemm(c, k, a_bits, b_bits, out, tiles=None):
    """out (batch, M, N) floats <- L-Mul GEMM of a_bits (Ba, M, K) and
    b_bits (Bb, K, N) container bit patterns, all device arrays."""
    batch, M, N = out.shape
    if batch == 0 or M == 0 or N == 0:
        return
    tiles = tiles or tiles_for(c)
    shift, add, mask, offset = rounding_params(c, k)
    modulus = 1 << c.width
    fold = c.uint.type((int(offset) - c.bias) % modulus)
    unfold = c.uint.type((c.bias - int(offset)) % modulus)
    grid = (-(-N // tiles.BN), -(-M // tiles.BM), batch)
    gemm_kernel(c, tiles)[grid, tiles.threads](a_bits, b_bits, out, shift, add,
                                               mask, offset, fold, unfold)
