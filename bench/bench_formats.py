"""Narrow formats (issue #7): bfloat16 L-Mul against float32 L-Mul (elements
per second; half the bytes), float8 L-Mul against float8 multiplication
emulated by ml_dtypes (its own float8 ufunc loop: widen, multiply, round).

    python -m pytest bench/bench_formats.py --benchmark-only \
        --benchmark-json .benchmarks/formats.json  && python bench/summarize.py .benchmarks/formats.json
"""
import ml_dtypes
import numpy as np
import pytest

import lmul_simd

N = 1 << 22


def operands(dtype, out_dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32).astype(dtype)
    y = rng.standard_normal(N).astype(np.float32).astype(dtype)
    return x, y, np.empty(N, out_dtype)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16],
                         ids=["float32", "bfloat16"])
def test_lmul_bfloat16_vs_float32(benchmark, dtype):
    benchmark.group = "bfloat16 vs float32 L-Mul, n=2^22"
    x, y, out = operands(dtype, dtype)
    benchmark(lmul_simd.multiply, x, y, out=out)


FLOAT8 = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}


@pytest.mark.parametrize("fmt", list(FLOAT8))
def test_lmul_float8(benchmark, fmt):
    benchmark.group = f"float8 {fmt}, n=2^22"
    x, y, out = operands(FLOAT8[fmt], np.float32)
    benchmark(lmul_simd.multiply, x, y, out=out)


@pytest.mark.parametrize("fmt", list(FLOAT8))
def test_ml_dtypes_float8_emulation(benchmark, fmt):
    benchmark.group = f"float8 {fmt}, n=2^22"
    x, y, out = operands(FLOAT8[fmt], FLOAT8[fmt])
    benchmark(np.multiply, x, y, out=out)
