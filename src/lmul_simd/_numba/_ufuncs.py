"""The elementwise API as real np.ufuncs whose inner loops Numba compiles.

`numba.vectorize` does not fit: it makes a DUFunc (not an np.ufunc), has no
float16 type, and its ufuncs reject `where=` under NumPy 2.4 ("An iterator
operand was flagged as the ARRAYMASK, ..."). So the loops are compiled with
Numba's ufunc builder (the calls `numba.vectorize` makes, from
numba.np.ufunc.ufuncbuilder) and the ufunc is made by NumPy's own C API,
PyUFunc_FromFuncAndData, through ctypes, exactly as the C backend's Cython
glue makes its ufuncs. The float16 loop is compiled on uint16 bit patterns
and registered under NumPy's half type code.
"""
import ctypes
import functools

import numpy as np
from numba.np.ufunc.ufuncbuilder import (
    UFuncBuilder, _build_element_wise_ufunc_wrapper,
    _compile_element_wise_function, _finalize_ufunc_signature)

from ._bits import lmul16_bits, lmul_float32, lmul_float64

FLOAT32_MANTISSA, FLOAT64_MANTISSA = 23, 52

_TYPENUM = {np.dtype(t): np.dtype(t).num for t in (np.float16, np.float32, np.float64)}
_NUMBA_TYPE = {np.float16: "uint16", np.float32: "float32", np.float64: "float64"}


@functools.lru_cache(maxsize=None)
def _compiled_loop(kernel, dtype):
    """(type numbers, loop pointer, keep-alive) of `kernel` for inputs and
    output of `dtype`; float16 loops work on the uint16 bit patterns."""
    nb_func = UFuncBuilder(kernel, cache=True).nb_func
    t = _NUMBA_TYPE[dtype]
    cres, args, ret = _compile_element_wise_function(
        nb_func, nb_func.targetoptions, f"{t}({t}, {t})")
    signature = _finalize_ufunc_signature(cres, args, ret)
    _, pointer, env = _build_element_wise_ufunc_wrapper(cres, signature)
    return [_TYPENUM[np.dtype(dtype)]] * 3, int(pointer), (cres.library, env)


_PY_UFUNC_NONE = -1          # the identity "None" of PyUFunc_FromFuncAndData
_FROM_FUNC_AND_DATA_SLOT = 1  # its index in NumPy's ufunc C-API table
_KEEPALIVE = []               # what the ufuncs point to; they live forever


def _from_func_and_data():
    """NumPy's PyUFunc_FromFuncAndData, callable from Python."""
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = get_pointer(np._core._multiarray_umath._UFUNC_API, None)
    slot = ctypes.cast(table, ctypes.POINTER(ctypes.c_void_p))[_FROM_FUNC_AND_DATA_SLOT]
    prototype = ctypes.PYFUNCTYPE(
        ctypes.py_object, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
    return prototype(slot)


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


def _lmul_kernels(k):
    """Loop bodies computing L-Mul with k mantissa bits (k a constant)."""
    def lmul_float16_bits(x, y):
        return lmul16_bits(x, y, k)

    def lmul_float32_k(x, y):
        return lmul_float32(x, y, k)

    def lmul_float64_k(x, y):
        return lmul_float64(x, y, k)

    return lmul_float16_bits, lmul_float32_k, lmul_float64_k


_NARROW_K_MESSAGE = ("multiply_k(k) with k > 23 needs float64 inputs: float16 and "
                     "float32 inputs are computed in the float32 container, where "
                     "k is out of range 1..23; cast them to float64 to use k up to 52")


def refuse_narrow(x, y):
    """The float16/float32 loop body of the ufuncs whose k the float32
    container cannot hold: it raises (NumPy would otherwise cast such inputs
    to float64 silently, computing a k their format lacks)."""
    raise ValueError(_NARROW_K_MESSAGE)


def make_multiply():
    """The ufunc with each format's own k (float16 10, float32 23, float64 52)."""
    f16, _, _ = _lmul_kernels(10)
    _, f32, _ = _lmul_kernels(FLOAT32_MANTISSA)
    _, _, f64 = _lmul_kernels(FLOAT64_MANTISSA)
    return _new_ufunc("multiply", MULTIPLY_DOC, [
        (np.float16, f16), (np.float32, f32), (np.float64, f64)])


@functools.lru_cache(maxsize=None)
def multiply_k(k):
    """The ufunc with operands rounded to k mantissa bits (1 <= k <= 52),
    made once per k and cached."""
    if not 1 <= k <= FLOAT64_MANTISSA:
        raise ValueError(f"mantissa bits k={k} is out of range 1..52 "
                         f"(1..23 for float16 and float32 inputs)")
    name = f"multiply_k{k}"
    f16, f32, f64 = _lmul_kernels(k)
    if k > FLOAT32_MANTISSA:
        f16 = f32 = refuse_narrow
    return _new_ufunc(name, MULTIPLY_K_DOC.format(k=k), [
        (np.float16, f16), (np.float32, f32), (np.float64, f64)])


MULTIPLY_DOC = """multiply(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2, elementwise (Numba backend; the same bits as the C
backend). k is the format's own mantissa width: float16 10, float32 23,
float64 52. float16 is computed in the float32 container and rounded back.
Subnormal inputs count as zero; results below the normal range flush to zero.
"""

MULTIPLY_K_DOC = """multiply_k{k}(x1, x2, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None, subok=True)

L-Mul product of x1 and x2 with both operands first rounded to k={k} mantissa
bits (round-to-nearest-even), elementwise (Numba backend). See multiply.
"""
