"""Small, batched and pre-packed products (pytest-benchmark): lmul_simd against
numpy.matmul, all threads, float32, measured in the same run.

    python -m pytest bench/bench_packed.py --benchmark-only \\
        --benchmark-columns=median --benchmark-json=bench/results/packed.json

Each case records in extra_info the ratio numpy time / lmul_simd time
(medians measured in blocks in the same run, bench/ratios.py) at the
native level and with AVX2 forced, with all threads and with one. The issue's goals: one 8x8 product >=
0.5x, a batch of 10000 8x8 products >= 0.5x, 64x384 @ pack(384x1536) called
repeatedly >= 1.0x. No timing is asserted.
"""
import contextlib

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import lmul_simd
from ratios import compare

LEVELS = [i for i in ("avx512", "avx2") if i in lmul_simd.available_isas()]
# all threads (the goals), and one thread on both sides: on a shared, loaded
# machine the threads of either library wait for a core, one thread does not
THREADS = ["all", 1]


@contextlib.contextmanager
def threads(n):
    """n threads for numpy's BLAS and for lmul_simd ("all": their defaults)."""
    if n == "all":
        yield
        return
    with threadpool_limits(n), lmul_simd.num_threads(n):
        yield


def run_case(benchmark, isa, n_threads, numpy_call, lmul_call, rounds, inner=1, **info):
    with lmul_simd.use_isa(isa), threads(n_threads):
        comparison = compare(numpy_call, lmul_call, calls=rounds, inner=inner)
        benchmark.pedantic(lmul_call, rounds=rounds, iterations=inner)
    benchmark.extra_info.update(isa=isa, native=lmul_simd.best_isa(), threads=n_threads,
                                **comparison.info(), **info)


def normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("isa", LEVELS)
def test_one_8x8(benchmark, isa, n_threads):
    a, b = normal((8, 8)), normal((8, 8), 1)
    run_case(benchmark, isa, n_threads, lambda: np.matmul(a, b), lambda: lmul_simd.matmul(a, b),
             rounds=200, inner=50, shape="8x8 @ 8x8", goal=0.5)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("isa", LEVELS)
def test_batch_10000_8x8(benchmark, isa, n_threads):
    a, b = normal((10000, 8, 8)), normal((10000, 8, 8), 1)
    run_case(benchmark, isa, n_threads, lambda: np.matmul(a, b), lambda: lmul_simd.matmul(a, b),
             rounds=30, shape="10000 x (8x8 @ 8x8)", goal=0.5)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("isa", LEVELS)
def test_attention_heads(benchmark, isa, n_threads):
    a, b = normal((12, 128, 64)), normal((12, 64, 128), 1)
    run_case(benchmark, isa, n_threads, lambda: np.matmul(a, b), lambda: lmul_simd.matmul(a, b),
             rounds=30, shape="12 x (128x64 @ 64x128)")


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("isa", LEVELS)
def test_packed_64x384x1536(benchmark, isa, n_threads):
    a, b = normal((64, 384)), normal((384, 1536), 1)
    with lmul_simd.use_isa(isa), threads(n_threads):
        packed = lmul_simd.pack(b)
        unpacked = compare(lambda: np.matmul(a, b), lambda: lmul_simd.matmul(a, b)).ratio
    run_case(benchmark, isa, n_threads, lambda: np.matmul(a, b), lambda: lmul_simd.matmul(a, packed),
             rounds=30, shape="64x384 @ pack(384x1536)", goal=1.0,
             unpacked_ratio=round(unpacked, 3))
