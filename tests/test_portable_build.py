"""The C library built as on a non-x86 machine (LMUL_PORTABLE_ONLY: the
scalar level alone, no intrinsics) compiles warning-free, reports only the
scalar level, and gives the reference's bits."""
import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lmul_simd import reference
from lmul_cases import CONTAINERS, random_bits, special_bits
from test_elementwise_exact import assert_same_bits

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "src" / "liblmul").rglob("*.c"))


@pytest.fixture(scope="module")
def portable_lib(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not SOURCES:
        pytest.skip("needs a C compiler and the library sources (a source checkout)")
    out = tmp_path_factory.mktemp("portable") / "liblmul_portable.so"
    subprocess.run([cc, "-O2", "-std=c11", "-shared", "-fPIC", "-Wall", "-Wextra",
                    "-Werror", "-DLMUL_PORTABLE_ONLY", f"-I{ROOT / 'include'}",
                    *map(str, SOURCES), "-o", str(out), "-lm"], check=True)
    lib = ctypes.CDLL(str(out))
    for name in ("lmul_smul", "lmul_dmul"):
        getattr(lib, name).argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                                       ctypes.c_void_p, ctypes.c_int64,
                                       ctypes.c_void_p, ctypes.c_int64, ctypes.c_int]
    return lib


def test_only_the_scalar_level_exists(portable_lib):
    assert portable_lib.lmul_best_isa() == 0
    assert portable_lib.lmul_set_isa(1) == -3          # LMUL_ERR_ISA


@pytest.mark.parametrize("name,dtype,k", [("lmul_smul", np.float32, 3),
                                          ("lmul_smul", np.float32, 23),
                                          ("lmul_dmul", np.float64, 52)])
def test_portable_results_match_the_reference(portable_lib, name, dtype, k):
    c = CONTAINERS[np.dtype(dtype)]
    bits = np.concatenate([special_bits(c), random_bits(c, 5000, seed=9)])
    x = bits.view(dtype)
    y = np.roll(x, 7)
    z = np.empty_like(x)
    s = x.itemsize
    status = getattr(portable_lib, name)(x.size, x.ctypes.data, s, y.ctypes.data, s,
                                         z.ctypes.data, s, k)
    assert status == 0
    assert_same_bits(z, reference.lmul(x, y, k))
