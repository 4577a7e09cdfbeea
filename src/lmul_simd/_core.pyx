# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin glue: the C library's elementwise loops as NumPy ufuncs, and its
instruction-set control."""
cimport numpy as cnp
import numpy as np
from libc.stdint cimport int64_t, intptr_t, uint8_t, uint16_t
from libc.stdlib cimport malloc
from libc.string cimport strdup

cnp.import_array()
cnp.import_ufunc()

cdef extern from "lmul_simd.h" nogil:
    int LMUL_OK, LMUL_ERR_ISA, LMUL_ERR_ARG
    ctypedef enum lmul_isa:
        LMUL_ISA_SCALAR, LMUL_ISA_AVX2, LMUL_ISA_AVX512
    const char *lmul_version()
    const char *lmul_strerror(int status)
    lmul_isa lmul_get_isa()
    lmul_isa lmul_best_isa()
    int lmul_set_isa(lmul_isa isa)
    const char *lmul_isa_name(lmul_isa isa)
    int lmul_isa_from_name(const char *name, lmul_isa *isa)
    int lmul_isa_env_status()
    int lmul_smul(int64_t n, const float *x, int64_t xs, const float *y,
                  int64_t ys, float *z, int64_t zs, int k)
    int lmul_dmul(int64_t n, const double *x, int64_t xs, const double *y,
                  int64_t ys, double *z, int64_t zs, int k)
    int lmul_hmul(int64_t n, const uint16_t *x, int64_t xs, const uint16_t *y,
                  int64_t ys, uint16_t *z, int64_t zs, int k)
    int lmul_bmul(int64_t n, const uint16_t *x, int64_t xs, const uint16_t *y,
                  int64_t ys, uint16_t *z, int64_t zs, int k)
    int lmul_e4m3mul(int64_t n, const uint8_t *x, int64_t xs, const uint8_t *y,
                     int64_t ys, float *z, int64_t zs, int k)
    int lmul_e5m2mul(int64_t n, const uint8_t *x, int64_t xs, const uint8_t *y,
                     int64_t ys, float *z, int64_t zs, int k)

cdef extern from "numpy/ndarraytypes.h":
    int NPY_HALF

cdef extern from "_ufunc_support.h":
    void lmul_use_float64_container_resolver(object ufunc)

FLOAT32_MANTISSA = 23
FLOAT64_MANTISSA = 52

# ---------------------------------------------------------------- inner loops
# NumPy releases the GIL around these; k travels in the loop's data pointer
# and was validated when the ufunc was made.

cdef void f32_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    lmul_smul(dims[0], <const float *>args[0], steps[0], <const float *>args[1],
              steps[1], <float *>args[2], steps[2], <int><intptr_t>data)

cdef void f64_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    lmul_dmul(dims[0], <const double *>args[0], steps[0], <const double *>args[1],
              steps[1], <double *>args[2], steps[2], <int><intptr_t>data)

cdef void f16_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    lmul_hmul(dims[0], <const uint16_t *>args[0], steps[0],
              <const uint16_t *>args[1], steps[1], <uint16_t *>args[2], steps[2],
              <int><intptr_t>data)

cdef void bf16_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    lmul_bmul(dims[0], <const uint16_t *>args[0], steps[0],
              <const uint16_t *>args[1], steps[1], <uint16_t *>args[2], steps[2],
              <int><intptr_t>data)

cdef void e4m3_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    lmul_e4m3mul(dims[0], <const uint8_t *>args[0], steps[0],
                 <const uint8_t *>args[1], steps[1], <float *>args[2], steps[2],
                 <int><intptr_t>data)

cdef void e5m2_loop(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                    void *data) noexcept nogil:
    lmul_e5m2mul(dims[0], <const uint8_t *>args[0], steps[0],
                 <const uint8_t *>args[1], steps[1], <float *>args[2], steps[2],
                 <int><intptr_t>data)


cdef class _NarrowFormat:
    """An ml_dtypes format: its type number, the result's, its loop, its k."""
    cdef int typenum, result_typenum, mantissa_bits
    cdef cnp.PyUFuncGenericFunction loop


cdef _NarrowFormat narrow_format(dtype, result_typenum, cnp.PyUFuncGenericFunction loop,
                                 int mantissa_bits):
    cdef _NarrowFormat f = _NarrowFormat()
    f.typenum = dtype.num
    f.result_typenum = result_typenum
    f.loop = loop
    f.mantissa_bits = mantissa_bits
    return f


def _narrow_formats():
    import ml_dtypes
    return [
        narrow_format(np.dtype(ml_dtypes.bfloat16), np.dtype(ml_dtypes.bfloat16).num,
                      <cnp.PyUFuncGenericFunction>bf16_loop, 7),
        narrow_format(np.dtype(ml_dtypes.float8_e4m3fn), cnp.NPY_FLOAT,
                      <cnp.PyUFuncGenericFunction>e4m3_loop, 3),
        narrow_format(np.dtype(ml_dtypes.float8_e5m2), cnp.NPY_FLOAT,
                      <cnp.PyUFuncGenericFunction>e5m2_loop, 2),
    ]


NARROW_FORMATS = _narrow_formats()


cdef register_narrow_loops(ufunc, k):
    """Adds the ml_dtypes loops (bfloat16 -> bfloat16, float8 -> float32) to
    a ufunc; k None means each format's own mantissa width."""
    cdef _NarrowFormat f
    cdef int types[3]
    for f in NARROW_FORMATS:
        types[0] = types[1] = f.typenum
        types[2] = f.result_typenum
        loop_k = f.mantissa_bits if k is None else k
        cnp.PyUFunc_RegisterLoopForType(ufunc, f.typenum, f.loop, types,
                                        <void *><intptr_t>loop_k)

# ---------------------------------------------------------------- ufuncs

cdef object new_ufunc(str name, str doc, list loops):
    """loops: (NumPy type number, loop function index, k) for each dtype."""
    cdef cnp.PyUFuncGenericFunction *funcs
    cdef void **data
    cdef char *types
    cdef Py_ssize_t n = len(loops), i
    funcs = <cnp.PyUFuncGenericFunction *>malloc(n * sizeof(cnp.PyUFuncGenericFunction))
    data = <void **>malloc(n * sizeof(void *))
    types = <char *>malloc(3 * n)
    if funcs == NULL or data == NULL or types == NULL:
        raise MemoryError()
    for i, (typenum, k) in enumerate(loops):
        if typenum == cnp.NPY_FLOAT:
            funcs[i] = <cnp.PyUFuncGenericFunction>f32_loop
        elif typenum == cnp.NPY_DOUBLE:
            funcs[i] = <cnp.PyUFuncGenericFunction>f64_loop
        else:
            funcs[i] = <cnp.PyUFuncGenericFunction>f16_loop
        data[i] = <void *><intptr_t>k
        types[3 * i] = types[3 * i + 1] = types[3 * i + 2] = typenum
    # the ufunc keeps these pointers for its whole life: it is cached forever
    return cnp.PyUFunc_FromFuncAndData(
        funcs, data, types, <int>n, 2, 1, cnp.PyUFunc_None,
        strdup(name.encode()), strdup(doc.encode()), 0)


def make_multiply():
    """The ufunc with each format's own k (float16 10, float32 23, float64 52)."""
    ufunc = new_ufunc("multiply", MULTIPLY_DOC, [
        (NPY_HALF, 10), (cnp.NPY_FLOAT, FLOAT32_MANTISSA),
        (cnp.NPY_DOUBLE, FLOAT64_MANTISSA)])
    register_narrow_loops(ufunc, None)
    return ufunc


def make_multiply_k(int k):
    """The ufunc with operands rounded to k mantissa bits (1 <= k <= 52)."""
    if not 1 <= k <= FLOAT64_MANTISSA:
        raise ValueError(f"mantissa bits k={k} is out of range 1..52 "
                         f"(1..23 for float16 and float32 inputs)")
    name = f"multiply_k{k}"
    doc = MULTIPLY_K_DOC.format(k=k)
    if k > FLOAT32_MANTISSA:
        ufunc = new_ufunc(name, doc, [(cnp.NPY_DOUBLE, k)])
        lmul_use_float64_container_resolver(ufunc)
        return ufunc
    ufunc = new_ufunc(name, doc, [(NPY_HALF, k), (cnp.NPY_FLOAT, k),
                                  (cnp.NPY_DOUBLE, k)])
    register_narrow_loops(ufunc, k)
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
