"""Tiled L-Mul GEMM: out[z] = sum_k lmul(a[z, i, k], b[z, k, j]).

Each block computes a BM x BN tile of one output matrix, each thread TM x TN
outputs held in registers (rows ty + i*TY, columns tx + j*TX, so that the
shared-memory reads of a warp hit distinct banks). The operands of a K-step
are prepared once, on their way into shared memory: subnormals become zeros
of their sign (DAZ), finite values are rounded to k bits, and B's patterns
get offset - bias folded in (modulo 2^width, sign bit included).

A tile pair whose operands are all "tame" (exponents in the middle of the
range, so that no product of two of them can leave the normal range) takes
the fast path: one integer add gives the product's bit pattern, sign
included, since the two sign bits add modulo 2 at the top. Any other tile
pair (zeros, specials, extreme exponents, the ragged last K-step) takes the
general path, the full elementwise rules per product. The products are
accumulated in the container's float (float32, or float64).
"""
import functools
from typing import NamedTuple

from numba import cuda

from ._bits import SIMULATOR, primitives
from ._elementwise import lmul_device_functions, rounding_params


class Tiles(NamedTuple):
    BM: int    # output rows per block
    BN: int    # output columns per block
    BK: int    # inner-dimension step held in shared memory
    TM: int    # output rows per thread
    TN: int    # output columns per thread

    @property
    def threads(self):
        return (self.BM // self.TM) * (self.BN // self.TN)


GPU_TILES = {32: Tiles(128, 128, 8, 8, 8), 64: Tiles(64, 64, 8, 4, 4)}
SIMULATOR_TILES = Tiles(8, 8, 4, 2, 2)   # the simulator runs a Python thread per thread


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
    BM, BN, BK, TM, TN = tiles
    THREADS = tiles.threads
    TY, TX = BM // TM, BN // TN
    A_STRIDE = BM + 4          # transposed A tile, padded against bank conflicts
    ZERO, ALL_ONES = U(0), U((1 << c.width) - 1)
    SIGN, MAG = U(c.sign_bit), U(c.sign_bit - 1)
    INF, MIN_NORMAL, PAD = U(c.inf), U(c.smallest_normal), U(c.bias)
    TAME_LO, TAME_HI = (U(v) for v in tame_range(c))
    round_magnitude, lmul_bits = lmul_device_functions(c)
    wrap_add, as_float = primitives(U, F)

    @cuda.jit(device=True)
    def prepare(v, shift, add, mask):
        """DAZ, then finite normals rounded to k bits: (bits, tame)."""
        mag = U(v & MAG)
        if mag < MIN_NORMAL:
            return U(v & SIGN), False
        if (mag < INF) & (shift != ZERO):
            mag = round_magnitude(mag, shift, add, mask)
        tame = (mag >= TAME_LO) & (mag < TAME_HI)
        return U(U(v & SIGN) | mag), tame

    def tile_loader(ROWS, COLS, K_AXIS, TRANSPOSED):
        """Device function: src[z, r0:r0+ROWS, c0:c0+COLS] prepared, `fold`
        added, into tile[row, col] (tile[col, row] if TRANSPOSED); True if any
        operand is not tame. Past the K end it pads with 0, past M or N with
        1.0 (tame: a ragged M or N keeps the fast path)."""
        LOADS = ROWS * COLS // THREADS
        assert LOADS * THREADS == ROWS * COLS

        @cuda.jit(device=True)
        def load(src, z, r0, c0, tile, shift, add, mask, fold):
            wild = False
            for r in range(LOADS):
                idx = cuda.threadIdx.x + r * THREADS
                row = idx // COLS
                col = idx - row * COLS
                row_out, col_out = r0 + row >= src.shape[1], c0 + col >= src.shape[2]
                v = PAD
                if (col_out if K_AXIS == 2 else row_out):
                    v = ZERO
                elif not (row_out | col_out):
                    v = src[z, r0 + row, c0 + col]
                bits, tame = prepare(v, shift, add, mask)
                if TRANSPOSED:
                    tile[col, row] = wrap_add(bits, fold)
                else:
                    tile[row, col] = wrap_add(bits, fold)
                wild = wild | (not tame)
            return wild

        return load

    load_a_tile = tile_loader(BM, BK, 2, True)     # sA[k, m]: a column per k
    load_b_tile = tile_loader(BK, BN, 1, False)    # sB[k, n]

    @cuda.jit(device=True)
    def accumulate_tame(sA, sB, acc, ra, rb, ty, tx):
        for kk in range(BK):
            for i in range(TM):
                ra[i] = sA[kk, ty + i * TY]
            for j in range(TN):
                rb[j] = sB[kk, tx + j * TX]
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] += as_float(wrap_add(ra[i], rb[j]))

    @cuda.jit(device=True)
    def accumulate_general(sA, sB, acc, ra, rb, ty, tx, offset, unfold):
        for kk in range(BK):
            for i in range(TM):
                ra[i] = sA[kk, ty + i * TY]
            for j in range(TN):
                rb[j] = wrap_add(sB[kk, tx + j * TX], unfold)
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] += as_float(lmul_bits(ra[i], rb[j], ZERO, ZERO,
                                                    ALL_ONES, offset))

    @cuda.jit
    def gemm(a, b, out, shift, add, mask, offset, fold, unfold):
        sA = cuda.shared.array((BK, A_STRIDE), U)
        sB = cuda.shared.array((BK, BN), U)
        acc = cuda.local.array((TM, TN), F)
        ra = cuda.local.array(TM, U)
        rb = cuda.local.array(TN, U)
        z = cuda.blockIdx.z
        za = z if a.shape[0] > 1 else 0
        zb = z if b.shape[0] > 1 else 0
        m0, n0 = cuda.blockIdx.y * BM, cuda.blockIdx.x * BN
        ty, tx = cuda.threadIdx.x // TX, cuda.threadIdx.x % TX
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = 0
        for k0 in range(0, a.shape[2], BK):
            wild = load_a_tile(a, za, m0, k0, sA, shift, add, mask, ZERO)
            wild = load_b_tile(b, zb, k0, n0, sB, shift, add, mask, fold) | wild
            if cuda.syncthreads_or(wild):
                accumulate_general(sA, sB, acc, ra, rb, ty, tx, offset, unfold)
            else:
                accumulate_tame(sA, sB, acc, ra, rb, ty, tx)
            cuda.syncthreads()
        for i in range(TM):
            for j in range(TN):
                row, col = m0 + ty + i * TY, n0 + tx + j * TX
                if row < out.shape[1] and col < out.shape[2]:
                    out[z, row, col] = acc[i, j]

    return gemm


def launch_gemm(c, k, a_bits, b_bits, out):
    """out (batch, M, N) floats <- L-Mul GEMM of a_bits (Ba, M, K) and
    b_bits (Bb, K, N) container bit patterns, all device arrays."""
    batch, M, N = out.shape
    if batch == 0 or M == 0 or N == 0:
        return
    tiles = tiles_for(c)
    shift, add, mask, offset = rounding_params(c, k)
    modulus = 1 << c.width
    fold = c.uint.type((int(offset) - c.bias) % modulus)
    unfold = c.uint.type((c.bias - int(offset)) % modulus)
    grid = (-(-N // tiles.BN), -(-M // tiles.BM), batch)
    gemm_kernel(c, tiles)[grid, tiles.threads](a_bits, b_bits, out, shift, add,
                                               mask, offset, fold, unfold)
