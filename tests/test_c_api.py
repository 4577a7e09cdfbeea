"""The C library through its public header's functions (ctypes): status
codes for bad arguments, byte strides, and no writes outside the output."""
import ctypes
from pathlib import Path

import numpy as np
import pytest

import lmul_simd
from lmul_simd import reference
from test_elementwise_exact import assert_same_bits

LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG, LMUL_ERR_ISA = 0, -1, -2, -3


@pytest.fixture(scope="module")
def lib():
    path = next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))
    library = ctypes.CDLL(str(path))
    for name in ("lmul_smul", "lmul_dmul", "lmul_hmul", "lmul_bmul",
                 "lmul_e4m3mul", "lmul_e5m2mul"):
        fn = getattr(library, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                       ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                       ctypes.c_int64, ctypes.c_int]
    library.lmul_version.restype = ctypes.c_char_p
    library.lmul_strerror.restype = ctypes.c_char_p
    library.lmul_isa_name.restype = ctypes.c_char_p
    return library


def ptr(a):
    return a.ctypes.data


def test_version_and_messages(lib):
    assert lib.lmul_version().decode() == lmul_simd.__version__
    assert b"k" in lib.lmul_strerror(LMUL_ERR_K)
    assert lib.lmul_isa_name(99) == b"unknown"


def test_set_isa_status_codes(lib):
    assert lib.lmul_set_isa(7) == LMUL_ERR_ARG
    best = lib.lmul_best_isa()
    if best < 2:
        assert lib.lmul_set_isa(best + 1) == LMUL_ERR_ISA
    assert lib.lmul_set_isa(lib.lmul_get_isa()) == LMUL_OK


@pytest.mark.parametrize("name,dtype,out_dtype,k_max", [
    ("lmul_smul", np.float32, np.float32, 23), ("lmul_dmul", np.float64, np.float64, 52),
    ("lmul_hmul", np.float16, np.float16, 23), ("lmul_bmul", np.uint16, np.uint16, 23),
    ("lmul_e4m3mul", np.uint8, np.float32, 23), ("lmul_e5m2mul", np.uint8, np.float32, 23)])
def test_bad_k_and_arguments(lib, name, dtype, out_dtype, k_max):
    fn = getattr(lib, name)
    x = np.ones(4, dtype)
    z = np.zeros(4, out_dtype)
    s, t = x.itemsize, z.itemsize
    for k in (0, k_max + 1, -5):
        assert fn(4, ptr(x), s, ptr(x), s, ptr(z), t, k) == LMUL_ERR_K
    assert fn(-1, ptr(x), s, ptr(x), s, ptr(z), t, 3) == LMUL_ERR_ARG
    assert fn(4, None, s, ptr(x), s, ptr(z), t, 3) == LMUL_ERR_ARG
    assert fn(0, None, s, None, s, None, t, 3) == LMUL_OK
    assert not z.any(), "a failed call wrote its output"


def test_byte_strides_and_no_write_outside_output(lib):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(300).astype(np.float32)
    y = rng.standard_normal(100).astype(np.float32)
    guard = np.full(2 * 100 + 2, np.float32(12345.0))
    z = guard[1:-1:2]                       # every other float, guards at both ends
    status = lib.lmul_smul(100, ptr(x[::-3]) , -12, ptr(y), 4, ptr(z), 8, 5)
    assert status == LMUL_OK
    assert_same_bits(z, reference.lmul(x[::-3], y, 5))
    assert (guard[0::2] == 12345.0).all() and guard[-1] == 12345.0


def test_broadcast_operand_with_zero_stride(lib):
    x = np.float64([3.0])
    y = np.linspace(-4, 4, 2500)
    z = np.empty_like(y)
    assert lib.lmul_dmul(2500, ptr(x), 0, ptr(y), 8, ptr(z), 8, 52) == LMUL_OK
    assert_same_bits(z, reference.lmul(np.full(2500, 3.0), y))
