"""Defects of a held-out audit (issue 13): C error codes reaching the ufunc
loops, allocation failure, FP flags, settings under threads, overflow in
the argument checks, the default thread count, LMUL_SIMD_ISA on a CPU that
lacks the level, the thread pool across fork."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import lmul_simd

pytestmark = pytest.mark.skipif(lmul_simd.backend != "c",
                                reason="the C backend's error paths and settings")

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


def run_python(code, timeout=120, **env):
    """code in a fresh interpreter with env added; the completed process."""
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.path.abspath(SRC), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def operands(m, kd, n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, kd)).astype(dtype),
            rng.standard_normal((kd, n)).astype(dtype))


# ---------------------------------------------------------------- 1. errors

def test_matmul_raises_the_c_error_for_an_out_with_a_zero_stride():
    a, b = operands(4, 3, 5)
    base = np.full(5, 7, np.float32)
    out = as_strided(base, (4, 5), (0, 4))
    with pytest.raises(ValueError, match="invalid argument"):
        lmul_simd.matmul(a, b, out=out)
    assert (base == 7).all()          # nothing written


# ---------------------------------------------------------------- 2. no memory

def test_allocation_failure_is_a_memory_error_and_writes_nothing():
    result = run_python("""
        import numpy as np, lmul_simd
        a = np.ones((40, 30), np.float32); b = np.ones((30, 50), np.float32)
        out = np.full((40, 50), 7, np.float32)
        try:
            lmul_simd.matmul(a, b, out=out)
        except MemoryError as error:
            print("MemoryError", error)
        print("untouched", bool((out == 7).all()))
        print("vecdot", lmul_simd.vecdot(a, a)[0])   # needs no workspace
        """, LMUL_SIMD_TEST_FAIL_ALLOC="1")
    assert result.returncode == 0, result.stderr
    assert "MemoryError" in result.stdout and "out of memory" in result.stdout
    assert "untouched True" in result.stdout
    assert "vecdot " in result.stdout
