# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin glue: the C library's elementwise, GEMM and dot loops as NumPy ufuncs
and gufuncs, and its instruction-set and thread control."""
cimport numpy as cnp
import numpy as np
from libc.stdint cimport int64_t, intptr_t, uint8_t, uint16_t
from cpython.exc cimport PyErr_Occurred, PyErr_SetString
from libc.stdlib cimport free, malloc
from libc.string cimport strdup

cnp.import_array()
cnp.import_ufunc()

from lmul_simd.lmul_simd cimport *

cdef extern from "numpy/ndarraytypes.h":
    int NPY_HALF

cdef extern from "_ufunc_support.h":
    void lmul_use_float64_container_resolver(object ufunc)

FLOAT32_MANTISSA = 23
FLOAT64_MANTISSA = 52

# ---------------------------------------------------------------- inner loops
# NumPy releases the GIL around these; k travels in the loop's data pointer
# and was validated when the ufunc was made. A C error code becomes a Python
# exception, which NumPy raises when the loop returns (a loop cannot return
# an error itself).

cdef void raise_status(const char *what, int status, int k) noexcept nogil:
    if status == LMUL_OK:
        return
    with gil:
        if PyErr_Occurred() != NULL:
            return
        message = f"lmul_simd.{what.decode()} (k = {k}): {lmul_strerror(status).decode()}"
        if status == LMUL_ERR_ARG:
            message += " (e.g. an out= with two elements at one address)"
        PyErr_SetString(MemoryError if status == LMUL_ERR_NOMEM else ValueError,
                        message.encode())


cdef void f32_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_smul(dims[0], <const float *>args[0], steps[0],
                                        <const float *>args[1], steps[1],
                                        <float *>args[2], steps[2], k), k)

cdef void f64_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_dmul(dims[0], <const double *>args[0], steps[0],
                                        <const double *>args[1], steps[1],
                                        <double *>args[2], steps[2], k), k)

cdef void f16_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_hmul(dims[0], <const uint16_t *>args[0], steps[0],
                                        <const uint16_t *>args[1], steps[1],
                                        <uint16_t *>args[2], steps[2], k), k)

cdef void bf16_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_bmul(dims[0], <const uint16_t *>args[0], steps[0],
                                        <const uint16_t *>args[1], steps[1],
                                        <uint16_t *>args[2], steps[2], k), k)

cdef void e4m3_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_e4m3mul(dims[0], <const uint8_t *>args[0], steps[0],
                                           <const uint8_t *>args[1], steps[1],
                                           <float *>args[2], steps[2], k), k)

cdef void e5m2_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    cdef int k = <int><intptr_t>data
    raise_status(b"multiply", lmul_e5m2mul(dims[0], <const uint8_t *>args[0], steps[0],
                                           <const uint8_t *>args[1], steps[1],
                                           <float *>args[2], steps[2], k), k)


# gufunc loops: dims[0] is the batch, then the core dimensions; steps[0..2]
# the batch strides, then the core strides of each operand in order. One loop
# per kind serves every format: the data pointer carries k | format << 8.

cdef enum GemmFormat:   # the values of lmul_format
    FMT_F32 = 0
    FMT_F64 = 1
    FMT_F16 = 2
    FMT_BF16 = 3
    FMT_E4M3 = 4
    FMT_E5M2 = 5

cdef inline void *gufunc_data(int fmt, int k):
    return <void *><intptr_t>(k | fmt << 8)

cdef inline int data_k(void *data) noexcept nogil:
    return <int>(<intptr_t>data & 0xFF)

cdef inline int data_format(void *data) noexcept nogil:
    return <int>(<intptr_t>data >> 8)


cdef int gemm_batch(int fmt, cnp.npy_intp *dims, char **args,
                    cnp.npy_intp *steps, int k) noexcept nogil:
    """C = A B for every batch element in one call (fmt is an lmul_format)."""
    cdef float one32 = 1.0, zero32 = 0.0
    cdef double one64 = 1.0, zero64 = 0.0
    cdef const void *one = &one64 if fmt == FMT_F64 else <const void *>&one32
    cdef const void *zero = &zero64 if fmt == FMT_F64 else <const void *>&zero32
    return lmul_gemm_batch_strided(<lmul_format>fmt, dims[0], dims[1], dims[3],
                                   dims[2], one, args[0], steps[0], steps[3],
                                   steps[4], args[1], steps[1], steps[5], steps[6],
                                   zero, args[2], steps[2], steps[7], steps[8], k)


cdef int dot_of(int fmt, cnp.npy_intp n, char *x, cnp.npy_intp sx, char *y,
                cnp.npy_intp sy, char *r, int k) noexcept nogil:
    """*r = the dot product of x and y, by the format's C entry point."""
    if fmt == FMT_F32:
        return lmul_sdot(n, <const float *>x, sx, <const float *>y, sy, <float *>r, k)
    if fmt == FMT_F64:
        return lmul_ddot(n, <const double *>x, sx, <const double *>y, sy,
                         <double *>r, k)
    if fmt == FMT_F16:
        return lmul_hdot(n, <const uint16_t *>x, sx, <const uint16_t *>y, sy,
                         <uint16_t *>r, k)
    if fmt == FMT_BF16:
        return lmul_bdot(n, <const uint16_t *>x, sx, <const uint16_t *>y, sy,
                         <uint16_t *>r, k)
    if fmt == FMT_E4M3:
        return lmul_e4m3dot(n, <const uint8_t *>x, sx, <const uint8_t *>y, sy,
                            <float *>r, k)
    return lmul_e5m2dot(n, <const uint8_t *>x, sx, <const uint8_t *>y, sy,
                        <float *>r, k)


cdef void matmul_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                      void *data) noexcept nogil:
    cdef int fmt = data_format(data), k = data_k(data)
    cdef int status = gemm_batch(fmt, dims, args, steps, k)
    if status != LMUL_OK:
        raise_status(b"matmul", status, k)


# Mixed operand formats (float32 C): the data pointer carries
# k | format_a << 8 | format_b << 16, as lmul_format values.

cdef void mixed_matmul_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                            void *data) noexcept nogil:
    cdef cnp.npy_intp i, m = dims[1], n = dims[3], kd = dims[2]
    cdef intptr_t d = <intptr_t>data
    cdef int k = <int>(d & 0xFF), status
    cdef lmul_format fa = <lmul_format>((d >> 8) & 0xFF)
    cdef lmul_format fb = <lmul_format>((d >> 16) & 0xFF)
    for i in range(dims[0]):
        status = lmul_mgemm_strided(fa, fb, m, n, kd, 1.0, args[0] + i * steps[0],
                                    steps[3], steps[4], args[1] + i * steps[1], steps[5],
                                    steps[6], 0.0, <float *>(args[2] + i * steps[2]),
                                    steps[7], steps[8], k)
        if status != LMUL_OK:
            raise_status(b"matmul", status, k)
            return


cdef void vecdot_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                      void *data) noexcept nogil:
    """The whole batch in one call (threads split it); float64 dot by dot."""
    cdef cnp.npy_intp b
    cdef int fmt = data_format(data), k = data_k(data), status = LMUL_OK
    if fmt != FMT_F64:
        raise_status(b"vecdot", lmul_dot_batched(
            <lmul_format>fmt, <lmul_format>fmt, dims[0], dims[1], args[0], steps[0],
            steps[3], args[1], steps[1], steps[4], args[2], steps[2], k), k)
        return
    for b in range(dims[0]):
        status = dot_of(fmt, dims[1], args[0] + b * steps[0], steps[3],
                        args[1] + b * steps[1], steps[4], args[2] + b * steps[2], k)
        if status != LMUL_OK:
            raise_status(b"vecdot", status, k)
            return


cdef void mixed_vecdot_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                            void *data) noexcept nogil:
    cdef intptr_t d = <intptr_t>data
    cdef int k = <int>(d & 0xFF)
    raise_status(b"vecdot", lmul_dot_batched(
        <lmul_format>((d >> 8) & 0xFF), <lmul_format>((d >> 16) & 0xFF), dims[0],
        dims[1], args[0], steps[0], steps[3], args[1], steps[1], steps[4], args[2],
        steps[2], k), k)


cdef class _NarrowFormat:
    """An ml_dtypes format: its type number, the result's, its elementwise
    loop, its gufunc format, its k."""
    cdef int typenum, result_typenum, mantissa_bits, gemm_format
    cdef cnp.PyUFuncGenericFunction loop


cdef _NarrowFormat narrow_format(dtype, result_typenum, cnp.PyUFuncGenericFunction loop,
                                 int gemm_format, int mantissa_bits):
    cdef _NarrowFormat f = _NarrowFormat()
    f.typenum = dtype.num
    f.result_typenum = result_typenum
    f.loop = loop
    f.gemm_format = gemm_format
    f.mantissa_bits = mantissa_bits
    return f


def _narrow_formats():
    import ml_dtypes
    return [
        narrow_format(np.dtype(ml_dtypes.bfloat16), np.dtype(ml_dtypes.bfloat16).num,
                      <cnp.PyUFuncGenericFunction>bf16_loop, FMT_BF16, 7),
        narrow_format(np.dtype(ml_dtypes.float8_e4m3fn), cnp.NPY_FLOAT,
                      <cnp.PyUFuncGenericFunction>e4m3_loop, FMT_E4M3, 3),
        narrow_format(np.dtype(ml_dtypes.float8_e5m2), cnp.NPY_FLOAT,
                      <cnp.PyUFuncGenericFunction>e5m2_loop, FMT_E5M2, 2),
    ]


NARROW_FORMATS = _narrow_formats()

# ---------------------------------------------------------------- ufuncs

# what a ufunc computes: its loops and its gufunc signature
cdef enum:
    ELEMENTWISE = 0
    MATMUL = 1
    VECDOT = 2
SIGNATURES = {MATMUL: b"(n?,k),(k,m?)->(n?,m?)", VECDOT: b"(n),(n)->()"}


cdef cnp.PyUFuncGenericFunction gufunc_loop(int kind):
    if kind == MATMUL:
        return <cnp.PyUFuncGenericFunction>matmul_loop
    return <cnp.PyUFuncGenericFunction>vecdot_loop


cdef int builtin_format(int typenum):
    if typenum == cnp.NPY_FLOAT:
        return FMT_F32
    return FMT_F64 if typenum == cnp.NPY_DOUBLE else FMT_F16


cdef void *loop_data(int kind, int typenum, int k):
    """k, for a gufunc with its format (builtin dtypes)."""
    return <void *><intptr_t>k if kind == ELEMENTWISE else \
        gufunc_data(builtin_format(typenum), k)


cdef cnp.PyUFuncGenericFunction loop_of(int kind, int typenum):
    if kind != ELEMENTWISE:
        return gufunc_loop(kind)
    if typenum == cnp.NPY_FLOAT:
        return <cnp.PyUFuncGenericFunction>f32_loop
    if typenum == cnp.NPY_DOUBLE:
        return <cnp.PyUFuncGenericFunction>f64_loop
    return <cnp.PyUFuncGenericFunction>f16_loop


cdef object new_ufunc(str name, str doc, list loops, int kind):
    """loops: (NumPy type number, k) for each dtype."""
    cdef Py_ssize_t n = len(loops), i
    # the ufunc keeps these pointers for its whole life (it is cached forever);
    # if any cannot be had, none is kept
    cdef cnp.PyUFuncGenericFunction *funcs = <cnp.PyUFuncGenericFunction *>malloc(
        n * sizeof(cnp.PyUFuncGenericFunction))
    cdef void **data = <void **>malloc(n * sizeof(void *))
    cdef char *types = <char *>malloc(3 * n)
    cdef char *c_name = strdup(name.encode())
    cdef char *c_doc = strdup(doc.encode())
    cdef char *c_signature = strdup(SIGNATURES.get(kind, b""))
    ufunc = error = None
    if (funcs != NULL and data != NULL and types != NULL and c_name != NULL
            and c_doc != NULL and c_signature != NULL):
        for i, (typenum, k) in enumerate(loops):
            funcs[i] = loop_of(kind, typenum)
            data[i] = loop_data(kind, typenum, k)
            types[3 * i] = types[3 * i + 1] = types[3 * i + 2] = typenum
        try:
            ufunc = cnp.PyUFunc_FromFuncAndDataAndSignature(
                funcs, data, types, <int>n, 2, 1, cnp.PyUFunc_None, c_name, c_doc, 0,
                NULL if kind == ELEMENTWISE else c_signature)
        except Exception as failure:
            error = failure
    free(c_signature)              # NumPy parses the signature into its own copy
    if ufunc is None:
        free(funcs)
        free(data)
        free(types)
        free(c_name)
        free(c_doc)
        raise error if error is not None else MemoryError(
            f"cannot allocate the loops of {name}")
    return ufunc


cdef object make_default(str name, str doc, int kind):
    """The ufunc with each format's own k (float16 10, float32 23, float64 52)."""
    ufunc = new_ufunc(name, doc, [
        (NPY_HALF, 10), (cnp.NPY_FLOAT, FLOAT32_MANTISSA),
        (cnp.NPY_DOUBLE, FLOAT64_MANTISSA)], kind)
    register_narrow_loops(ufunc, None, kind)
    return ufunc


cdef object make_k(str name, str doc, int kind, int k):
    """The ufunc with operands rounded to k mantissa bits (1 <= k <= 52)."""
    if not 1 <= k <= FLOAT64_MANTISSA:
        raise ValueError(f"mantissa bits k={k} is out of range 1..52 "
                         f"(1..23 for float16 and float32 inputs)")
    if k > FLOAT32_MANTISSA:
        ufunc = new_ufunc(name, doc, [(cnp.NPY_DOUBLE, k)], kind)
        lmul_use_float64_container_resolver(ufunc)
        return ufunc
    ufunc = new_ufunc(name, doc, [(NPY_HALF, k), (cnp.NPY_FLOAT, k),
                                  (cnp.NPY_DOUBLE, k)], kind)
    register_narrow_loops(ufunc, k, kind)
    return ufunc


cdef register_narrow_loops(ufunc, k, int kind):
    """Adds the ml_dtypes loops (bfloat16 -> bfloat16, float8 -> float32) of
    this kind to a ufunc; k None means each format's own mantissa width."""
    cdef _NarrowFormat f
    cdef int types[3]
    cdef int loop_k
    cdef void *data
    for f in NARROW_FORMATS:
        types[0] = types[1] = f.typenum
        types[2] = f.result_typenum
        loop_k = f.mantissa_bits if k is None else k
        data = <void *><intptr_t>loop_k if kind == ELEMENTWISE else \
            gufunc_data(f.gemm_format, loop_k)
        if cnp.PyUFunc_RegisterLoopForType(
                ufunc, f.typenum, f.loop if kind == ELEMENTWISE else gufunc_loop(kind),
                types, data) < 0:
            raise RuntimeError(f"cannot register the {f.typenum} loop")


# the ml_dtypes formats of the mixed loops, as lmul_format values
MIXED_FORMATS = {"bfloat16": LMUL_FORMAT_BF16, "float8_e4m3fn": LMUL_FORMAT_E4M3FN,
                 "float8_e5m2": LMUL_FORMAT_E5M2}


cdef register_mixed_loops(ufunc, k, int kind):
    """matmul or vecdot loops of a float32 (or bfloat16) operand times a
    narrower one, either order, float32 result: the narrow operand is widened
    as it is streamed or packed, never copied. k None: float32's 23."""
    import ml_dtypes
    cdef int types[3]
    cdef int loop_k = FLOAT32_MANTISSA if k is None else k
    cdef cnp.PyUFuncGenericFunction loop
    pairs = [(np.dtype(np.float32), LMUL_FORMAT_F32, name) for name in MIXED_FORMATS]
    pairs += [(np.dtype(ml_dtypes.bfloat16), LMUL_FORMAT_BF16, name)
              for name in ("float8_e4m3fn", "float8_e5m2")]
    for wide, wide_format, name in pairs:
        narrow = np.dtype(getattr(ml_dtypes, name))
        for first, second, fa, fb in ((wide, narrow, wide_format, MIXED_FORMATS[name]),
                                      (narrow, wide, MIXED_FORMATS[name], wide_format)):
            types[0], types[1], types[2] = first.num, second.num, cnp.NPY_FLOAT
            loop = <cnp.PyUFuncGenericFunction>(mixed_matmul_loop if kind == MATMUL
                                                else mixed_vecdot_loop)
            if cnp.PyUFunc_RegisterLoopForType(
                    ufunc, narrow.num, loop,
                    types, <void *><intptr_t>(loop_k | fa << 8 | fb << 16)) < 0:
                raise RuntimeError(f"cannot register the {first} x {second} loop")


def make_multiply():
    return make_default("multiply", MULTIPLY_DOC, ELEMENTWISE)


def make_multiply_k(int k):
    return make_k(f"multiply_k{k}", MULTIPLY_K_DOC.format(k=k), ELEMENTWISE, k)


def make_matmul():
    ufunc = make_default("matmul", MATMUL_DOC, MATMUL)
    register_mixed_loops(ufunc, None, MATMUL)
    return ufunc


def make_matmul_k(int k):
    ufunc = make_k(f"matmul_k{k}", MATMUL_K_DOC.format(k=k), MATMUL, k)
    if k <= FLOAT32_MANTISSA:
        register_mixed_loops(ufunc, k, MATMUL)
    return ufunc


def make_vecdot():
    ufunc = make_default("vecdot", VECDOT_DOC, VECDOT)
    register_mixed_loops(ufunc, None, VECDOT)
    return ufunc


def make_vecdot_k(int k):
    ufunc = make_k(f"vecdot_k{k}", VECDOT_K_DOC.format(k=k), VECDOT, k)
    if k <= FLOAT32_MANTISSA:
        register_mixed_loops(ufunc, k, VECDOT)
    return ufunc


MULTIPLY_DOC = """multiply(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2, elementwise: (1 + x_m + y_m + 2^-l(k)) * 2^(x_e + y_e),
computed by one integer addition of the bit patterns (Luo & Sun, 2024).
k is the format's own mantissa width: float16 10, float32 23, float64 52,
bfloat16 7, float8_e4m3fn 3, float8_e5m2 2 (ml_dtypes formats).
float16 and bfloat16 are computed in the float32 container and rounded back;
float8 products are float32.
Subnormal inputs count as zero; results below the normal range flush to zero.
"""

MULTIPLY_K_DOC = """multiply_k{k}(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2 with both operands first rounded to k={k} mantissa
bits (round-to-nearest-even), elementwise. See lmul_simd.multiply.
"""

MATMUL_DOC = """matmul(x1, x2, /, out=None, *, axes=None, axis=None, casting='same_kind', order='K', dtype=None, subok=True)

Matrix product with L-Mul products, as numpy.matmul: signature
(n?,k),(k,m?)->(n?,m?), batch broadcasting, 1-D operands, out=, axes=.
Products are exact L-Mul products (k = the format's mantissa width), summed
in float32 (float16, bfloat16, float8, float32 inputs) or float64: within
(K+2)*u*sum|p| of the exact sum (docs/contract.md section 4). float16 and bfloat16
results are rounded once from float32; float8 inputs (ml_dtypes float8_e4m3fn,
float8_e5m2) give float32. Narrow inputs widen exactly as they are packed.
Computed by a blocked, threaded GEMM (see lmul_simd.set_num_threads), or for
at most 16 rows (or columns) by a matrix-vector path that streams the other
operand: the same bits either way. float32 or bfloat16 times bfloat16 or
float8 (either order) gives float32, the narrow operand widened as streamed.
"""

MATMUL_K_DOC = """matmul_k{k}(x1, x2, /, out=None, *, axes=None, axis=None, casting='same_kind', order='K', dtype=None, subok=True)

lmul_simd.matmul with both operands rounded to k={k} mantissa bits first.
"""

VECDOT_DOC = """vecdot(x1, x2, /, out=None, *, axes=None, axis=None, casting='same_kind', order='K', dtype=None, subok=True)

Dot product over the last axis with L-Mul products, as numpy.vecdot for real
inputs: signature (n),(n)->(), broadcasting over the other axes. Formats and
accumulation as lmul_simd.matmul.
"""

VECDOT_K_DOC = """vecdot_k{k}(x1, x2, /, out=None, *, axes=None, axis=None, casting='same_kind', order='K', dtype=None, subok=True)

lmul_simd.vecdot with both operands rounded to k={k} mantissa bits first.
"""

# ---------------------------------------------------------------- ISA control

ISA_NAMES = tuple(lmul_isa_name(<lmul_isa>i).decode() for i in range(3))


def version():
    return lmul_version().decode()


def get_isa():
    return lmul_isa_name(lmul_get_isa()).decode()


def best_isa():
    return lmul_isa_name(lmul_best_isa()).decode()


def isa_env_error():
    """The message if LMUL_SIMD_ISA could not be applied at load, else None."""
    cdef int status = lmul_isa_env_status()
    return None if status == LMUL_OK else lmul_strerror(status).decode()


def set_isa(str name):
    cdef lmul_isa isa
    if lmul_isa_from_name(name.encode(), &isa) != LMUL_OK:
        raise ValueError(f"unknown instruction set {name!r}; "
                         f"choose one of {', '.join(ISA_NAMES)}")
    if lmul_set_isa(isa) == LMUL_ERR_ISA:
        raise RuntimeError(f"instruction set {name!r} is not supported on this "
                           f"machine; the best it has is {best_isa()!r}")


# ---------------------------------------------------------------- threads, stats

def get_num_threads():
    return lmul_get_num_threads()


def set_num_threads(int n):
    if lmul_set_num_threads(n) != LMUL_OK:
        raise ValueError(f"number of threads must be at least 1, got {n}")


def gemm_stats():
    """Register tiles computed by each GEMM microkernel since the last reset."""
    cdef lmul_gemm_stats stats
    lmul_gemm_get_stats(&stats)
    return {"fast": stats.fast_tiles, "zeros": stats.zero_tiles,
            "safe": stats.safe_tiles}


def reset_gemm_stats():
    lmul_gemm_reset_stats()

include "_core_packed.pxi"
