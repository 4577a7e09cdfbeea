"""The elementwise API as real np.ufuncs whose inner loops Numba compiles.

`numba.vectorize` does not fit: it makes a DUFunc (not an np.ufunc), has no
float16 type, and its ufuncs reject `where=` under NumPy 2.4 ("An iterator
operand was flagged as the ARRAYMASK, ..."). So the loops are compiled with
Numba's ufunc builder (the calls `numba.vectorize` makes, from
numba.np.ufunc.ufuncbuilder) and the ufunc is made by NumPy's own C API,
PyUFunc_FromFuncAndData, through ctypes, exactly as the C backend's Cython
glue makes its ufuncs. The float16 and bfloat16 loops are compiled on uint16
bit patterns, the float8 loops on uint8 bit patterns with float32 results
(docs/contract.md section 3, the result's format); the ml_dtypes formats' loops are added to the same ufuncs
with PyUFunc_RegisterLoopForType, as the C backend adds its own.
"""
import ctypes
import functools

import ml_dtypes
import numpy as np
from numba.np.ufunc.ufuncbuilder import (
    UFuncBuilder, _build_element_wise_ufunc_wrapper,
    _compile_element_wise_function, _finalize_ufunc_signature)

from ..reference import result_dtype
from ._bits import (WIDENING, lmul16_bits, lmul_bfloat16_bits, lmul_float8,
                    lmul_float32, lmul_float64)

FLOAT32_MANTISSA, FLOAT64_MANTISSA = 23, 52

_BF16 = np.dtype(ml_dtypes.bfloat16)
_E4M3FN, _E5M2 = np.dtype(ml_dtypes.float8_e4m3fn), np.dtype(ml_dtypes.float8_e5m2)
# the Numba type a loop sees for each format: bit patterns for the narrow ones
_NUMBA_TYPE = {np.dtype(np.float16): "uint16", np.dtype(np.float32): "float32",
               np.dtype(np.float64): "float64", _BF16: "uint16",
               _E4M3FN: "uint8", _E5M2: "uint8"}
# the ml_dtypes formats, with their own k, added to each ufunc (not float64 ones)
NARROW_MANTISSA = {_BF16: 7, _E4M3FN: 3, _E5M2: 2}


@functools.lru_cache(maxsize=None)
def _compiled_loop(kernel, dtype):
    """(type numbers, loop pointer, keep-alive) of `kernel` for two inputs of
    `dtype` and its result format (docs/contract.md section 3, the result's format)."""
    nb_func = UFuncBuilder(kernel, cache=True).nb_func
    dtype, result = np.dtype(dtype), result_dtype(dtype)
    t, r = _NUMBA_TYPE[dtype], _NUMBA_TYPE[result]
    cres, args, ret = _compile_element_wise_function(
        nb_func, nb_func.targetoptions, f"{r}({t}, {t})")
    signature = _finalize_ufunc_signature(cres, args, ret)
    _, pointer, env = _build_element_wise_ufunc_wrapper(cres, signature)
    return [dtype.num, dtype.num, result.num], int(pointer), (cres.library, env)


_PY_UFUNC_NONE = -1          # the identity "None" of PyUFunc_FromFuncAndData
# indices in NumPy's ufunc C-API table
_FROM_FUNC_AND_DATA_SLOT, _REGISTER_LOOP_FOR_TYPE_SLOT = 1, 2
_KEEPALIVE = []               # what the ufuncs point to; they live forever


def _ufunc_api(slot, restype, *argtypes):
    """The function at `slot` of NumPy's ufunc C-API table, callable from
    Python (holding the GIL; a Python error it sets is raised)."""
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = get_pointer(np._core._multiarray_umath._UFUNC_API, None)
    address = ctypes.cast(table, ctypes.POINTER(ctypes.c_void_p))[slot]
    return ctypes.PYFUNCTYPE(restype, *argtypes)(address)


def _from_func_and_data():
    """NumPy's PyUFunc_FromFuncAndData."""
    return _ufunc_api(_FROM_FUNC_AND_DATA_SLOT, ctypes.py_object,
                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                      ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)


def _register_loop_for_type():
    """NumPy's PyUFunc_RegisterLoopForType(ufunc, usertype, loop, types, data)."""
    return _ufunc_api(_REGISTER_LOOP_FOR_TYPE_SLOT, ctypes.c_int,
                      ctypes.py_object, ctypes.c_int, ctypes.c_void_p,
                      ctypes.c_void_p, ctypes.c_void_p)


def _new_ufunc(name, doc, kernels):
    """An np.ufunc of two inputs with one loop per (dtype, kernel), in order."""
    loops = [_compiled_loop(kernel, dtype) for dtype, kernel in kernels]
    n = len(loops)
    functions = (ctypes.c_void_p * n)(*[pointer for _, pointer, _ in loops])
    data = (ctypes.c_void_p * n)()
    types = (ctypes.c_char * (3 * n))(*[t for typenums, _, _ in loops for t in typenums])
    name_buffer = ctypes.create_string_buffer(name.encode())
    doc_buffer = ctypes.create_string_buffer(doc.encode())
    _KEEPALIVE.append((functions, data, types, name_buffer, doc_buffer,
                       [keep for _, _, keep in loops]))
    return _from_func_and_data()(functions, data, types, n, 2, 1, _PY_UFUNC_NONE,
                                 name_buffer, doc_buffer, 0)


def _register_narrow_loops(ufunc, kernels):
    """Adds a loop per (ml_dtypes format, kernel) to `ufunc`; returns it."""
    for dtype, kernel in kernels:
        typenums, pointer, keep = _compiled_loop(kernel, dtype)
        types = (ctypes.c_int * 3)(*typenums)
        _KEEPALIVE.append((types, keep))
        if _register_loop_for_type()(ufunc, dtype.num, pointer, types, None) != 0:
            raise RuntimeError(f"{ufunc.__name__}: no {dtype} loop could be registered")
    return ufunc


def _lmul_kernels(k):
    """Loop bodies computing L-Mul with k mantissa bits (k a constant)."""
    def lmul_float16_bits(x, y):
        return lmul16_bits(x, y, k)

    def lmul_float32_k(x, y):
        return lmul_float32(x, y, k)

    def lmul_float64_k(x, y):
        return lmul_float64(x, y, k)

    return lmul_float16_bits, lmul_float32_k, lmul_float64_k


def _narrow_kernel(dtype, k):
    """The loop body of the ml_dtypes format `dtype` with k mantissa bits."""
    if dtype == _BF16:
        def lmul_bfloat16_k(x, y):
            return lmul_bfloat16_bits(x, y, k)
        return lmul_bfloat16_k
    fmt = WIDENING[dtype]

    def lmul_float8_k(x, y):
        return lmul_float8(x, y, k, fmt)
    return lmul_float8_k


_NARROW_K_MESSAGE = ("multiply_k(k) with k > 23 needs float64 inputs: float16, "
                     "float32, bfloat16 and float8 inputs are computed in the float32 "
                     "container, where k is out of range 1..23; cast them to float64 "
                     "to use k up to 52")


def refuse_narrow(x, y):
    """The loop body, for formats computed in the float32 container, of the
    ufuncs whose k that container cannot hold: it raises (NumPy would
    otherwise cast such inputs to float64 silently, computing a k their
    format lacks)."""
    raise ValueError(_NARROW_K_MESSAGE)


def make_multiply():
    """The ufunc with each format's own k (float16 10, float32 23, float64 52,
    bfloat16 7, float8_e4m3fn 3, float8_e5m2 2)."""
    f16, _, _ = _lmul_kernels(10)
    _, f32, _ = _lmul_kernels(FLOAT32_MANTISSA)
    _, _, f64 = _lmul_kernels(FLOAT64_MANTISSA)
    ufunc = _new_ufunc("multiply", MULTIPLY_DOC, [
        (np.float16, f16), (np.float32, f32), (np.float64, f64)])
    return _register_narrow_loops(ufunc, [
        (dtype, _narrow_kernel(dtype, k)) for dtype, k in NARROW_MANTISSA.items()])


@functools.lru_cache(maxsize=None)
def multiply_k(k):
    """The ufunc with operands rounded to k mantissa bits (1 <= k <= 52),
    made once per k and cached."""
    if not 1 <= k <= FLOAT64_MANTISSA:
        raise ValueError(f"mantissa bits k={k} is out of range 1..52 "
                         f"(1..23 for inputs computed in the float32 container)")
    name = f"multiply_k{k}"
    f16, f32, f64 = _lmul_kernels(k)
    narrow = {dtype: _narrow_kernel(dtype, k) for dtype in NARROW_MANTISSA}
    if k > FLOAT32_MANTISSA:
        f16 = f32 = refuse_narrow
        narrow = dict.fromkeys(narrow, refuse_narrow)
    ufunc = _new_ufunc(name, MULTIPLY_K_DOC.format(k=k), [
        (np.float16, f16), (np.float32, f32), (np.float64, f64)])
    return _register_narrow_loops(ufunc, narrow.items())


MULTIPLY_DOC = """multiply(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2, elementwise (Numba backend; the same bits as the C
backend). k is the format's own mantissa width: float16 10, float32 23,
float64 52, bfloat16 7, float8_e4m3fn 3, float8_e5m2 2 (ml_dtypes formats).
float16 and bfloat16 are computed in the float32 container and rounded back;
float8 products are float32.
Subnormal inputs count as zero; results below the normal range flush to zero.
"""

MULTIPLY_K_DOC = """multiply_k{k}(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2 with both operands first rounded to k={k} mantissa
bits (round-to-nearest-even), elementwise (Numba backend). See multiply.
"""
