"""Elementwise L-Mul throughput against np.multiply (issue #2's targets; issue
#11: 2^20 float32 >= 0.95x np.multiply on AVX-512, >= 0.85x on AVX2, also with
10% zeros in x).

    python -m pytest bench/bench_elementwise.py --benchmark-only \
        --benchmark-json bench/results/elementwise.json

Output preallocated, float32, default k unless named. Groups pair each
L-Mul case with np.multiply at the same size, so the ratios read directly.
"""
import numpy as np
import pytest

import lmul_simd

SIZES = {"2^10": 1000, "2^20": 1 << 20, "2^24": 1 << 24}


def operands(n, dtype=np.float32, zeros=0.0):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    x[rng.random(n) < zeros] = 0
    return x, rng.standard_normal(n).astype(dtype), np.empty(n, dtype)


def lmul_case(isa, k=None):
    ufunc = lmul_simd.multiply if k is None else lmul_simd.multiply_k(k)

    def run(benchmark, x, y, out):
        with lmul_simd.use_isa(isa):
            benchmark(ufunc, x, y, out=out)
    return run


CASES = {
    "numpy": lambda benchmark, x, y, out: benchmark(np.multiply, x, y, out=out),
    **{f"lmul-{isa}": lmul_case(isa) for isa in lmul_simd.available_isas()},
    **{f"lmul-{isa}-k3": lmul_case(isa, 3) for isa in lmul_simd.available_isas()
       if isa != "scalar"},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("size", list(SIZES))
def test_float32(benchmark, size, case):
    benchmark.group = f"float32 n={size}"
    benchmark.extra_info["elements"] = SIZES[size]
    CASES[case](benchmark, *operands(SIZES[size]))


@pytest.mark.parametrize("case", ["numpy"] + [f"lmul-{isa}" for isa in lmul_simd.available_isas()
                                              if isa != "scalar"])
def test_float32_zeros(benchmark, case):
    """10% zeros scattered in x: most vectors hold one."""
    benchmark.group = "float32 n=2^20, 10% zeros"
    CASES[case](benchmark, *operands(SIZES["2^20"], zeros=0.1))
