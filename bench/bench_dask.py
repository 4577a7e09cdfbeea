"""lmul_simd.dask.matmul on a 2-process dask.distributed cluster against one
in-process lmul_simd.matmul with two threads, measured in the same run:

    PYTHONPATH=src python -m pytest bench/bench_dask.py --benchmark-columns=min,median -s

N x N @ N x N float32 (LMUL_BENCH_DASK_N, default 8192) in chunks of
LMUL_BENCH_DASK_CHUNK (default N/2: 8 block products and 4 pairwise sums).
The cluster: LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
on loopback, the GEMM limited to one thread in each worker; its inputs are
already in the workers' memory (persisted) and so is its result, as for data
that lives in the cluster (the time to gather the result to the client is
recorded apart). Target: the cluster at >= 0.7x the in-process speed (median
over the rounds), each worker's peak memory bounded by its chunks: the peak
resident set (VmHWM, reset before each round) is recorded per worker, with
the inputs it holds. No timing is asserted.
"""
import os
import time

import numpy as np
import pytest

import lmul_simd

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import lmul_simd.dask as ldask  # noqa: E402
from dask.graph_manipulation import clone  # noqa: E402

N = int(os.environ.get("LMUL_BENCH_DASK_N", "8192"))
CHUNK = int(os.environ.get("LMUL_BENCH_DASK_CHUNK", str(N // 2)))
ROUNDS = 3
MEDIANS = {}
MIB = 2 ** 20


@pytest.fixture(scope="module")
def client():
    package_root = os.path.dirname(os.path.dirname(lmul_simd.__file__))
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  env={"PYTHONPATH": path}) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lmul_simd.set_num_threads, 1)
        yield client


@pytest.fixture(scope="module")
def operands(client):
    rng = da.random.default_rng(0)
    A = rng.standard_normal((N, N), chunks=CHUNK, dtype=np.float32).persist()
    B = rng.standard_normal((N, N), chunks=CHUNK, dtype=np.float32).persist()
    distributed.wait([A, B])
    return A, B


def reset_peak():
    """Linux: writing 5 to clear_refs resets the peak resident set (VmHWM)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def memory_mib():
    """(peak, current) resident set of this process, MiB."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return tuple(int(fields[key].split()[0]) // 1024 for key in ("VmHWM", "VmRSS"))


def held_mib(dask_worker):
    """What the worker holds in memory for the cluster (persisted arrays), MiB."""
    return dask_worker.state.nbytes // MIB


def test_in_process_two_threads(benchmark, client, operands):
    A, B = (x.compute() for x in operands)
    with lmul_simd.num_threads(2):
        C = benchmark.pedantic(lmul_simd.matmul, (A, B), rounds=ROUNDS, warmup_rounds=0)
    MEDIANS["in_process"] = benchmark.stats.stats.median
    MEDIANS["check"] = C[:CHUNK, :CHUNK]
    benchmark.extra_info.update(n=N, threads=2, isa=lmul_simd.get_isa(),
                                gflops=round(2 * N ** 3 / benchmark.stats.stats.median / 1e9, 1))


def test_two_process_cluster(benchmark, client, operands):
    A, B = operands
    inputs_held = client.run(held_mib)
    peaks, last, baselines = [], [], []

    def setup():   # the last round's result leaves the workers' memory
        while last:
            C = last.pop()
            keys = {future.key for future in distributed.futures_of(C)}
            client.cancel(C)
            deadline = time.monotonic() + 30
            while keys & set(client.who_has()) and time.monotonic() < deadline:
                time.sleep(0.05)
        client.run(reset_peak)
        baselines.append(client.run(memory_mib))

    def product():   # new keys each round (clone), so nothing is reused
        C = clone(ldask.matmul(A, B), omit=[A, B]).persist()
        distributed.wait(C)
        peaks.append(client.run(memory_mib))
        last.append(C)
        return C

    C = benchmark.pedantic(product, setup=setup, rounds=ROUNDS, warmup_rounds=0)
    median = benchmark.stats.stats.median
    start = time.perf_counter()
    first_block = C.blocks[0, 0].compute()
    gather = time.perf_counter() - start
    if "check" in MEDIANS:   # the same product as in memory, within float32 rounding
        check = MEDIANS["check"]
        assert np.max(np.abs(first_block - check)) <= 1e-4 * np.max(np.abs(check))
    info = dict(n=N, chunk=CHUNK, workers=2, threads_per_worker=1, isa=lmul_simd.get_isa(),
                gflops=round(2 * N ** 3 / median / 1e9, 1),
                gather_one_block_s=round(gather, 3),
                worker_peak_mib={w: max(p[w][0] for p in peaks) for w in peaks[0]},
                worker_rss_before_mib={w: baselines[-1][w][1] for w in peaks[0]},
                worker_inputs_held_mib=inputs_held, input_block_mib=CHUNK * CHUNK * 4 // MIB)
    if "in_process" in MEDIANS:
        info["speed_vs_in_process"] = round(MEDIANS["in_process"] / median, 3)
    benchmark.extra_info.update(info)
    print(f"\nN={N} chunk={CHUNK}: in-process {MEDIANS.get('in_process', float('nan')):.2f} s, "
          f"cluster {median:.2f} s (median of {ROUNDS}), "
          f"speed ratio {info.get('speed_vs_in_process')}; worker peaks {info['worker_peak_mib']} MiB "
          f"(resident before {info['worker_rss_before_mib']} MiB, holding inputs {inputs_held} MiB)")
