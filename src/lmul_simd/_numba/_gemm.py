"""L-Mul GEMM in Numba: C = sum_k lmul(A[i,k], B[k,j]) (docs/contract.md section 4).

The operands are packed once, in parallel: narrow formats (float16, bfloat16,
float8) widened to container bits, DAZ and rounding to k bits, A cut into
tiles of MR rows (rows kept contiguous) and B into tiles of NR columns
stored K-major (the NR values of one kk contiguous), with the smallest and
largest magnitude of every KC-long chunk of a tile. Each MR x NR block of C
is a register tile, summed chunk by chunk by one of three micro-kernels,
chosen per pair of chunks from those magnitude ranges:

* one_add: no zero, infinity or NaN, and no product can leave the normal
  range. A product is then a single wrapping integer add of the signed
  patterns, the bias and the 2^-l(k) offset folded into A's packed values
  (the carry out of the top bit XORs the signs), and a float add;
* finite: no infinity or NaN and no product can overflow: the same add,
  masked to zero where an operand is zero or R falls below the normal range;
* general: every product by the full elementwise rules (lmul_bits).

one_add and finite are written in LLVM IR (`tile_kernel`): the MR x NR
accumulators are vectors held in registers for the whole chunk, which
LLVM's vectorizer does not manage from a loop. The blocks of C run as a
`prange` over (batch, group of row tiles) tasks; a KC x NR chunk of B stays
in cache while the row tiles of a task use it. Accumulation is in the
container: float32 for float32 and narrower inputs, float64 for float64.

The functions below are templates over the container: their constants
(U, S, FLOAT, SIGN, ...) are globals that `_specialize` binds once per
container, in a namespace of its own. (Closures over those constants would
do the same, but Numba's disk cache never matches a closure that holds other
jitted functions, and the GEMM would be recompiled in every process.)
"""
import types

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, prange
from numba.core import types as nb_types
from numba.extending import intrinsic

from ..reference import FLOAT32, FLOAT64
from ._bits import OPS32, OPS64, l_of_k, narrow_to_float_bits

VECTOR_BITS = 512           # one register of the micro-kernels' vectors
VECTORS_PER_ROW = 2         # NR = 2 vectors of the container
MR, KC, TILES_PER_TASK = 12, 256, 6

# bound per container by _specialize; the templates read them as globals
U = S = FLOAT = SIGN = MAG = INF = MIN_NORMAL = BIAS = P = NR = None
OVERFLOW_AT = UNDERFLOW_AT = round_magnitude = lmul_bits = None

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
                MAG=U(c.sign_bit - 1), INF=U(c.inf), MIN_NORMAL=U(c.smallest_normal),
                BIAS=U(c.bias), P=c.P, NR=VECTORS_PER_ROW * VECTOR_BITS // c.width,
                OVERFLOW_AT=U(c.bias + c.inf), UNDERFLOW_AT=U(c.bias + c.smallest_normal),
                round_magnitude=ops.round_magnitude, lmul_bits=ops.lmul_bits)


# ------------------------------------------------------------ micro-kernels
def _splat(builder, value, vector_type):
    lanes = vector_type.count
    one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vector_type, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))


def _accumulated(builder, mode, sums, a, b, shift, min_normal):
    """sums[v] + lmul(a, b[v]) for a packed A value `a` (scalar, shift
    already added) and B's vectors b, by `mode` (see the module docstring)."""
    vf = sums[0].type
    patterns = [builder.add(_splat(builder, a, b_vec.type), b_vec) for b_vec in b]
    added = [builder.fadd(acc, builder.bitcast(p, vf)) for acc, p in zip(sums, patterns)]
    if mode == "one_add":
        return added
    vi = b[0].type
    width = vi.element.width
    mag = ir.Constant(vi.element, (1 << (width - 1)) - 1)
    a_mag = builder.and_(builder.sub(a, shift), mag)
    # a zero A: (-2^(w-1)) + |B| stays negative; else |A| - bias + offset
    a_term = builder.select(builder.icmp_signed("==", a_mag, ir.Constant(vi.element, 0)),
                            ir.Constant(vi.element, -(1 << (width - 1))),
                            builder.add(a_mag, shift))
    a_term = _splat(builder, a_term, vi)
    out = []
    for acc, new, b_vec in zip(sums, added, b):
        b_mag = builder.and_(b_vec, _splat(builder, mag, vi))
        r = builder.add(a_term, b_mag)
        keep = builder.and_(builder.icmp_signed(">=", r, _splat(builder, min_normal, vi)),
                            builder.icmp_signed("!=", b_mag, ir.Constant(vi, None)))
        out.append(builder.select(keep, new, acc))
    return out


def _tile_codegen(mode):
    def codegen(context, builder, signature, args):
        a_type, b_type, _, acc_type = signature.args
        a = context.make_array(a_type)(context, builder, args[0])
        b = context.make_array(b_type)(context, builder, args[1])
        acc = context.make_array(acc_type)(context, builder, args[3])
        width = a_type.dtype.bitwidth
        vi = ir.VectorType(ir.IntType(width), VECTOR_BITS // width)
        vf = ir.VectorType(context.get_value_type(acc_type.dtype), vi.count)
        loop = _TileLoop(builder, a, b, args[2], vi, vf, width // 8)
        acc_vectors = builder.bitcast(acc.data, vf.as_pointer())
        # finite needs more registers per product: half the rows per pass
        rows = MR if mode == "one_add" else MR // 2
        for first in range(0, MR, rows):
            loop.emit(mode, acc_vectors, first, rows)
        return context.get_dummy_value()
    return codegen


class _TileLoop:
    """Emits the loop over kk of a micro-kernel for `rows` rows of a tile,
    its accumulators loaded from acc before and stored back after."""

    def __init__(self, builder, a, b, shift, vi, vf, align):
        self.builder, self.a, self.shift, self.vi, self.vf = builder, a, shift, vi, vf
        self.b_vectors = builder.bitcast(b.data, vi.as_pointer())
        self.intp = a.shape.type.element
        self.kc = builder.extract_value(a.shape, 1)
        # A's rows: a chunk of MR rows of the rounded A, strides[0] bytes apart
        row_bytes = builder.extract_value(a.strides, 0)
        base = builder.bitcast(a.data, ir.IntType(8).as_pointer())
        self.a_rows = [builder.bitcast(builder.gep(base, [builder.mul(row_bytes, self.const(r))]),
                                       a.data.type) for r in range(MR)]
        self.align = align
        self.min_normal = ir.Constant(vi.element, 1 << (23 if vi.element.width == 32 else 52))

    def const(self, n):
        return ir.Constant(self.intp, n)

    def emit(self, mode, acc_vectors, first, rows):
        builder, const = self.builder, self.const
        slots = [builder.gep(acc_vectors, [const(first * VECTORS_PER_ROW + i)])
                 for i in range(rows * VECTORS_PER_ROW)]
        initial = [builder.load(slot, align=self.align) for slot in slots]
        entry = builder.basic_block
        header = builder.append_basic_block("tile.k")
        body = builder.append_basic_block("tile.body")
        done = builder.append_basic_block("tile.done")
        builder.branch(header)
        builder.position_at_end(header)
        kk = builder.phi(self.intp)
        sums = [builder.phi(self.vf) for _ in slots]
        kk.add_incoming(const(0), entry)
        for phi, value in zip(sums, initial):
            phi.add_incoming(value, entry)
        builder.cbranch(builder.icmp_signed("<", kk, self.kc), body, done)

        builder.position_at_end(body)
        b_row = builder.mul(kk, const(VECTORS_PER_ROW))
        b_vectors = [builder.load(builder.gep(self.b_vectors, [builder.add(b_row, const(v))]),
                                  align=self.align) for v in range(VECTORS_PER_ROW)]
        new = []
        for r in range(first, first + rows):
            a_value = builder.load(builder.gep(self.a_rows[r], [kk]))
            row = (r - first) * VECTORS_PER_ROW
            new += _accumulated(builder, mode, sums[row:row + VECTORS_PER_ROW], a_value,
                                b_vectors, self.shift, self.min_normal)
        kk.add_incoming(builder.add(kk, const(1)), body)
        for phi, value in zip(sums, new):
            phi.add_incoming(value, body)
        builder.branch(header)

        builder.position_at_end(done)
        for slot, value in zip(slots, sums):
            builder.store(value, slot, align=self.align)


def _tile_kernel(mode):
    """acc (MR, NR) += the products of a chunk of an A tile (MR, kc; its
    rows contiguous; packed values, shift added) and of a B tile (kc, NR;
    C-contiguous), shift = the 2^-l(k) offset - bias."""
    @intrinsic
    def tile_kernel(typingctx, a, b, shift, acc):
        return nb_types.void(a, b, shift, acc), _tile_codegen(mode)
    return tile_kernel


one_add_tile = _tile_kernel("one_add")
finite_tile = _tile_kernel("finite")


@_template()
def offset_and_shift(k):
    """The 2^-l(k) offset's pattern and the shift, offset - bias, added to
    A's packed bits."""
    offset = U(U(1) << U(P - l_of_k(k)))
    return offset, S(S(offset) - S(BIAS))


@_template()
def general_tile(a, b, k, shift, acc):
    """The same sums with the full elementwise rules for every product."""
    for kk in range(a.shape[1]):
        for r in range(MR):
            x = U(a[r, kk] - shift)
            for j in range(NR):
                acc[r, j] += S(lmul_bits(x, U(b[kk, j]), k)).view(FLOAT)


@_template()
def tile_update(a, b, a_range, b_range, k, acc):
    """acc += a chunk's products by the fastest micro-kernel valid for it,
    from the operands' magnitude ranges (smallest, largest)."""
    offset, shift = offset_and_shift(k)
    if (a_range[1] >= INF or b_range[1] >= INF
            or U(a_range[1] + b_range[1] + offset) >= OVERFLOW_AT):
        general_tile(a, b, k, shift, acc)
    elif (a_range[0] < MIN_NORMAL or b_range[0] < MIN_NORMAL
            or U(a_range[0] + b_range[0] + offset) < UNDERFLOW_AT):
        finite_tile(a, b, shift, acc)
    else:
        one_add_tile(a, b, shift, acc)


# ----------------------------------------------------------------- packing
@_template()
def container_bits(v, fmt):
    """The container bits of v: a container value (fmt None) or the bit
    pattern of a value of the narrow format fmt (float32 container only)."""
    if fmt is None:
        return U(FLOAT(v).view(U))
    return U(narrow_to_float_bits(v, fmt))


@_template()
def packed_bits(v, k, fmt):
    """(sign | rounded magnitude, rounded magnitude) of v (DAZ)."""
    bits = container_bits(v, fmt)
    mag = round_magnitude(U(bits & MAG), k)
    return S(U(bits & SIGN) | mag), mag


@_template(parallel=True)
def pack_a(a, k, fmt):
    """a (batch, M, K) as rounded bits plus the shift (offset_and_shift,
    wrapping) in tiles of MR rows, (batch, tile, MR, K), the last padded with
    zero rows, and per KC chunk of each tile the smallest and largest
    magnitude, (batch, tile, chunk, 2)."""
    batch, M, K = a.shape
    n_tiles, n_chunks = (M + MR - 1) // MR, (K + KC - 1) // KC
    tiles = np.empty((batch, n_tiles, MR, K), dtype=S)
    shift = offset_and_shift(k)[1]
    ranges = np.empty((batch, n_tiles, n_chunks, 2), dtype=U)
    for task in prange(batch * n_tiles * n_chunks):
        bi, t, c = task // (n_tiles * n_chunks), (task // n_chunks) % n_tiles, task % n_chunks
        k0, k1 = c * KC, min(K, c * KC + KC)
        smallest, largest = ~U(0), U(0)
        for r in range(MR):
            packed = tiles[bi, t, r, k0:k1]
            if t * MR + r >= M:
                packed[:] = 0
                continue
            source = a[bi, t * MR + r, k0:k1]
            for kk in range(k1 - k0):
                bits, mag = packed_bits(source[kk], k, fmt)
                packed[kk] = S(bits + shift)
                smallest, largest = min(smallest, mag), max(largest, mag)
        ranges[bi, t, c, 0], ranges[bi, t, c, 1] = smallest, largest
    return tiles, ranges


@_template(parallel=True)
def pack_b(b, k, fmt):
    """b (batch, K, N) as rounded bits in tiles of NR columns, (batch, tile,
    K, NR), the last padded with zeros, and per KC chunk of each tile the
    smallest and largest magnitude, (batch, tile, chunk, 2)."""
    batch, K, N = b.shape
    n_tiles, n_chunks = (N + NR - 1) // NR, (K + KC - 1) // KC
    tiles = np.empty((batch, n_tiles, K, NR), dtype=S)
    ranges = np.empty((batch, n_tiles, n_chunks, 2), dtype=U)
    for task in prange(batch * n_tiles * n_chunks):
        bi, t, c = task // (n_tiles * n_chunks), (task // n_chunks) % n_tiles, task % n_chunks
        used = min(NR, N - t * NR)
        smallest, largest = ~U(0), U(0)
        for kk in range(c * KC, min(K, c * KC + KC)):
            source, packed = b[bi, kk, t * NR:t * NR + used], tiles[bi, t, kk]
            for j in range(used):
                packed[j], mag = packed_bits(source[j], k, fmt)
                smallest, largest = min(smallest, mag), max(largest, mag)
            packed[used:] = 0
        ranges[bi, t, c, 0], ranges[bi, t, c, 1] = smallest, largest
    return tiles, ranges


# ----------------------------------------------------------------- driver
@_template()
def store_tiles(acc, out, t0, jt):
    """out[rows of tiles t0.., columns of tile jt] = acc, cut at the edges."""
    M, N = out.shape
    for t in range(acc.shape[0]):
        for r in range(min(MR, M - (t0 + t) * MR)):
            row = out[(t0 + t) * MR + r]
            for j in range(min(NR, N - jt * NR)):
                row[jt * NR + j] = acc[t, r, j]


@_template()
def task_split(batch, n_row_tiles, n_col_tiles, threads):
    """(row groups, column groups) of each batch item's tiles: about
    TILES_PER_TASK row tiles a task, a multiple of the thread count of tasks
    in all, and the columns split too where the batch and rows are too few."""
    per_round = threads * TILES_PER_TASK
    tasks = threads * max(1, (batch * n_row_tiles + per_round // 2) // per_round)
    if tasks <= batch:
        return 1, 1
    row_groups = max(1, min(n_row_tiles, (tasks + batch - 1) // batch))
    col_groups = (tasks + batch * row_groups - 1) // (batch * row_groups)
    return row_groups, max(1, min(n_col_tiles, col_groups))


@_template(parallel=True)
def tiled_gemm(a_tiles, a_ranges, b_tiles, b_ranges, k, threads, out):
    """out[b] = the L-Mul products of A[b] and B[b] summed, in tasks of a
    block of row tiles by a block of column tiles (task_split); each KC x NR
    chunk of a B tile is used by all the row tiles of a task. A batch of 1
    broadcasts."""
    batch, n_row_tiles, K = out.shape[0], a_tiles.shape[1], a_tiles.shape[3]
    n_col_tiles = b_tiles.shape[1]
    row_groups, col_groups = task_split(batch, n_row_tiles, n_col_tiles, threads)
    for task in prange(batch * row_groups * col_groups):
        bi, g = task // (row_groups * col_groups), task % (row_groups * col_groups)
        rg, cg = g // col_groups, g % col_groups
        t0, t1 = rg * n_row_tiles // row_groups, (rg + 1) * n_row_tiles // row_groups
        ai = bi if a_tiles.shape[0] > 1 else 0
        bj = bi if b_tiles.shape[0] > 1 else 0
        acc = np.empty((t1 - t0, MR, NR), dtype=FLOAT)
        for jt in range(cg * n_col_tiles // col_groups, (cg + 1) * n_col_tiles // col_groups):
            acc[:] = 0
            for c in range(a_ranges.shape[2]):
                k0, k1 = c * KC, min(K, c * KC + KC)
                b_chunk = b_tiles[bj, jt, k0:k1]
                for t in range(t0, t1):
                    tile_update(a_tiles[ai, t, :, k0:k1], b_chunk, a_ranges[ai, t, c],
                                b_ranges[bj, jt, c], k, acc[t - t0])
            store_tiles(acc, out[bi], t0, jt)


@_template()
def gemm(a, b, k, fmt, threads):
    """(batch, M, K) @ (batch, K, N) -> (batch, M, N) container array; a and b
    hold container values (fmt None) or the bit patterns of the narrow format
    fmt, widened as they are packed. An operand with a batch of 1 is broadcast.
    threads: Numba's thread count (read outside: a compiled read of it would
    keep the function out of the disk cache)."""
    a_tiles, a_ranges = pack_a(a, k, fmt)
    b_tiles, b_ranges = pack_b(b, k, fmt)
    batch, M, N = max(a.shape[0], b.shape[0]), a.shape[1], b.shape[2]
    out = np.zeros((batch, M, N), dtype=FLOAT)
    tiled_gemm(a_tiles, a_ranges, b_tiles, b_ranges, k, threads, out)
    return out


def _specialize(c, ops):
    """The templates compiled for container `c`, each with its own cache
    files; returns that container's gemm(a, b, k, fmt)."""
    namespace = dict(globals())
    namespace.update(_constants(c, ops))
    for function, options in _TEMPLATES:
        copy = types.FunctionType(function.__code__, namespace, function.__name__,
                                  function.__defaults__)
        copy.__qualname__ = f"{function.__name__}_{c.dtype}"
        copy.__doc__ = function.__doc__
        namespace[function.__name__] = njit(cache=True, **options)(copy)
    compiled = namespace["gemm"]

    def gemm(a, b, k, fmt):
        return compiled(a, b, k, fmt, get_num_threads())
    gemm.__doc__ = compiled.__doc__
    return gemm


gemm32 = _specialize(FLOAT32, OPS32)
gemm64 = _specialize(FLOAT64, OPS64)
