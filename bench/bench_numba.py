"""Numba backend against the C backend, measured in the same run:

    PYTHONPATH=src python -m pytest bench/bench_numba.py --benchmark-columns=min,median,ops -s

* elementwise float32, 2^20 elements: target >= 0.5x the C backend's throughput;
* elementwise on the narrow formats (float16, bfloat16, float8 e4m3fn/e5m2),
  2^20 elements, on the Numba backend, beside its float32 (issue #7);
* GEMM float32 512^3: target >= 0.2x the C GEMM (skipped while the C backend
  has no matmul);
* the JIT compile time, paid once per machine (cold disk cache) and what a
  later process pays (warm cache).

Timings on a shared machine are noisy; compare figures from one run only.
"""
import json
import os
import subprocess
import sys
import timeit
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import lmul_simd
from lmul_simd import _backend

numba_backend = pytest.importorskip("lmul_simd._numba")

N_ELEMENTS = 1 << 20
GEMM_SIZE = 512
TARGET = {"elementwise": 0.5, "gemm": 0.2}


def c_backend_or_skip(function):
    try:
        backend = _backend.get("c")
    except ImportError as error:
        pytest.skip(f"the C extension did not load: {error}")
    if not hasattr(backend, function):
        pytest.skip(f"the C backend has no {function} yet (issue #3)")
    return backend


def backend_or_skip(name, function):
    return numba_backend if name == "numba" else c_backend_or_skip(function)


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal(N_ELEMENTS).astype(np.float32) for _ in range(2))
    return x, y, np.empty_like(x)


@pytest.fixture(scope="module")
def matrices():
    rng = np.random.default_rng(1)
    shape = (GEMM_SIZE, GEMM_SIZE)
    return tuple(rng.standard_normal(shape).astype(np.float32) for _ in range(2))


@pytest.mark.parametrize("name", ["c", "numba"])
def test_elementwise_float32(benchmark, vectors, name):
    multiply = backend_or_skip(name, "multiply").multiply
    x, y, out = vectors
    benchmark.group = "elementwise float32 2^20"
    benchmark(multiply, x, y, out=out)
    assert np.array_equal(out.view(np.uint32), numba_backend.multiply(x, y).view(np.uint32))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16,
                                   ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2],
                         ids=lambda d: np.dtype(d).name)
def test_elementwise_formats_numba(benchmark, vectors, dtype):
    x, y = (v.astype(dtype) for v in vectors[:2])
    benchmark.group = "elementwise by format 2^20 (Numba)"
    result = benchmark(numba_backend.multiply, x, y)
    assert result.dtype == (np.float32 if x.itemsize == 1 else x.dtype)


@pytest.mark.parametrize("name", ["c", "numba"])
def test_gemm_float32(benchmark, matrices, name):
    matmul = backend_or_skip(name, "matmul").matmul
    a, b = matrices
    benchmark.group = "GEMM float32 512^3"
    result = benchmark(matmul, a, b)
    assert result.shape == (GEMM_SIZE, GEMM_SIZE)


def best_seconds(function, *args, **kwargs):
    function(*args, **kwargs)
    return min(timeit.repeat(lambda: function(*args, **kwargs), number=5, repeat=5)) / 5


@pytest.mark.parametrize("kind, function, data", [
    ("elementwise", "multiply", "vectors"), ("gemm", "matmul", "matrices")])
def test_numba_against_c_in_the_same_run(request, kind, function, data):
    c_function = getattr(c_backend_or_skip(function), function)
    args = request.getfixturevalue(data)[:2]
    c_time = best_seconds(c_function, *args)
    numba_time = best_seconds(getattr(numba_backend, function), *args)
    ratio = c_time / numba_time
    # a figure to report, not a pass/fail: timings are never asserted
    print(f"\n{kind}: C {c_time * 1e3:.3f} ms, Numba {numba_time * 1e3:.3f} ms, "
          f"Numba throughput {ratio:.2f}x the C backend's (target {TARGET[kind]}x)")


COMPILE_PROBE = """
import json, time
start = time.perf_counter()
import numpy as np
import lmul_simd._numba as nb
imported = time.perf_counter()
x = np.ones(8, np.float32)
nb.multiply_k(3)(x, x)
nb.matmul(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))
nb.matmul(np.ones((4, 4)), np.ones((4, 4)))
print(json.dumps({"import": imported - start, "first calls": time.perf_counter() - imported}))
"""


def test_jit_compile_time(tmp_path):
    """Cold: an empty Numba cache (NUMBA_CACHE_DIR); warm: the next process."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path),
           "PYTHONPATH": str(Path(lmul_simd.__file__).resolve().parent.parent)}

    def probe():
        done = subprocess.run([sys.executable, "-c", COMPILE_PROBE], env=env,
                              capture_output=True, text=True, check=True, timeout=600)
        return json.loads(done.stdout.splitlines()[-1])

    cold, warm = probe(), probe()
    for label, seconds in (("cold cache", cold), ("warm cache", warm)):
        print(f"\nJIT, {label}: import of the Numba backend {seconds['import']:.2f} s, "
              f"first multiply_k(3) + float32 and float64 matmul {seconds['first calls']:.2f} s")
    assert warm["import"] + warm["first calls"] < cold["import"] + cold["first calls"]
