"""GEMM benchmarks (pytest-benchmark): lmul_simd.matmul against numpy.matmul
(OpenBLAS limited to one thread with threadpoolctl), measured in the same run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python -m pytest bench/bench_gemm.py --benchmark-only --benchmark-columns=min,mean

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, make OpenBLAS run another
CPU's kernel; unset them for a fair comparison (the kernel OpenBLAS runs is
recorded in extra_info). Each case records its GFLOP/s, the tiles each
microkernel took (gemm_stats) and its ratio to OpenBLAS on one thread, timed
in blocks in the same run (ratio_vs_openblas), in extra_info. Issue #11's targets, single
thread, 1024^3 float32, ratio to OpenBLAS on one thread in the same run:
AVX-512 dense >= 0.95x, 30% zeros >= 0.6x, ReLU (50% zeros in A) >= 0.6x;
AVX2 (forced) dense >= 0.8x, 30% zeros >= 0.6x, ReLU >= 0.6x; two threads
>= 1.85x one at 2048^3 on both levels (test_thread_scaling: the median
ratio of 7 rounds, each timing one call on each count). No timing is asserted.
"""
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import lmul_simd
from ratios import compare

N = int(os.environ.get("LMUL_BENCH_N", "1024"))
N_THREADS = int(os.environ.get("LMUL_BENCH_N_THREADS", "2048"))


def data(n, zeros=0.0, seed=0, relu=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    if zeros:
        a[rng.random(a.shape) < zeros] = 0.0
        b[rng.random(b.shape) < zeros] = 0.0
    if relu:               # an MLP's second layer: relu(h) @ W
        a = np.maximum(a, 0)
    return a, b


def record(benchmark, n, **info):
    benchmark.extra_info["gflops"] = round(2.0 * n ** 3 / benchmark.stats.stats.min / 1e9, 1)
    benchmark.extra_info.update(info)


@pytest.fixture(scope="module")
def dense():
    return data(N)


def test_openblas_one_thread(benchmark, dense):
    a, b = dense
    with threadpool_limits(1):
        benchmark.pedantic(np.matmul, (a, b), rounds=5, warmup_rounds=1)
    blas = [(i["internal_api"], i.get("architecture")) for i in threadpool_info()]
    record(benchmark, N, blas=str(blas), coretype=os.environ.get("OPENBLAS_CORETYPE"))


@pytest.mark.parametrize("isa", [i for i in ("avx512", "avx2", "scalar")
                                 if i in lmul_simd.available_isas()][:2])
@pytest.mark.parametrize("case", ["dense", "zeros30", "relu", "k3"])
def test_lmul_one_thread(benchmark, dense, isa, case):
    """ratio_vs_openblas: OpenBLAS's time (one thread, on the same data) over
    lmul_simd's, measured in blocks in the same run (bench/ratios.py)."""
    a, b = {"zeros30": lambda: data(N, zeros=0.3),
            "relu": lambda: data(N, relu=True)}.get(case, lambda: dense)()
    ufunc = lmul_simd.matmul_k(3) if case == "k3" else lmul_simd.matmul
    lmul_simd.reset_gemm_stats()
    with lmul_simd.use_isa(isa), lmul_simd.num_threads(1), threadpool_limits(1):
        benchmark.pedantic(ufunc, (a, b), rounds=5, warmup_rounds=1)
        stats = str(lmul_simd.gemm_stats())
        ratio = compare(lambda: np.matmul(a, b), lambda: ufunc(a, b), rounds=5, calls=3)
    record(benchmark, N, isa=isa, tiles=stats, ratio_vs_openblas=round(ratio.ratio, 3))


@pytest.mark.parametrize("isa", [i for i in ("avx512", "avx2", "scalar")
                                 if i in lmul_simd.available_isas()][:2])
@pytest.mark.parametrize("threads", [1, 2])
def test_lmul_threads(benchmark, threads, isa):
    a, b = data(N_THREADS)
    with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads):
        benchmark.pedantic(lmul_simd.matmul, (a, b), rounds=3, warmup_rounds=1)
    record(benchmark, N_THREADS, threads=threads, isa=isa)


@pytest.mark.parametrize("isa", [i for i in ("avx512", "avx2", "scalar")
                                 if i in lmul_simd.available_isas()][:2])
def test_thread_scaling(benchmark, isa):
    """Two threads against one at N_THREADS^3: one call on each count per
    round (bench/ratios.py's blocks), the median of 7 rounds' ratios."""
    a, b = data(N_THREADS)

    def on(threads):
        def call():
            with lmul_simd.num_threads(threads):
                lmul_simd.matmul(a, b)
        return call

    with lmul_simd.use_isa(isa):
        scaling = compare(on(1), on(2), rounds=7, calls=1)
        benchmark.pedantic(on(2), rounds=1)
    record(benchmark, N_THREADS, isa=isa, two_vs_one_thread=round(scaling.ratio, 3),
           one_thread_s=round(scaling.reference_s, 3), two_threads_s=round(scaling.candidate_s, 3))
