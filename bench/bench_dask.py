"""lmul_simd.dask.matmul on a 2-process dask.distributed cluster against one
in-process lmul_simd.matmul with two threads, measured in the same run:

    PYTHONPATH=src python -m pytest bench/bench_dask.py --benchmark-columns=min,median -s

N x N @ N x N float32 (LMUL_BENCH_DASK_N, default 8192) in square chunks of
LMUL_BENCH_DASK_CHUNK (default N/2: 8 block products and 4 pairwise sums).
The cluster: LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
on loopback, the GEMM limited to one thread in each worker; its inputs are
already in the workers' memory (persisted) and so is its result, as for data
that lives in the cluster. Rounds alternate (in-process, cluster) so that a
busy machine's drift hits both alike; the ratio is taken per pair, median
over the rounds. Target: >= 0.7x the in-process speed, and each worker's peak
memory bounded by its chunks: the peak resident set (VmHWM, reset before
each round) is recorded per worker beside its resident set and the data it
held (inputs and copies of blocks fetched earlier) before the last round. No timing is
asserted.
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


class ClusterProduct:
    """Rounds of lmul_simd.dask.matmul(A, B) persisted on the cluster, each
    with new keys (clone), the last result gone first, the workers' peak
    memory reset before and read after."""

    def __init__(self, client, A, B):
        self.client, self.A, self.B = client, A, B
        self.last, self.peaks, self.before, self.held = None, [], [], []

    def forget_last(self):
        if self.last is None:
            return
        keys = {future.key for future in distributed.futures_of(self.last)}
        self.client.cancel(self.last)
        self.last = None
        deadline = time.monotonic() + 30
        while keys & set(self.client.who_has()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __call__(self):
        self.forget_last()
        self.client.run(reset_peak)
        self.before.append(self.client.run(memory_mib))
        self.held.append(self.client.run(held_mib))
        start = time.perf_counter()
        C = clone(ldask.matmul(self.A, self.B), omit=[self.A, self.B]).persist()
        distributed.wait(C)
        elapsed = time.perf_counter() - start
        self.peaks.append(self.client.run(memory_mib))
        self.last = C
        return elapsed


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def test_cluster_against_in_process(benchmark, client, operands):
    """Rounds alternate: one in-process product (two threads), one on the
    cluster; the benchmark's own timing is the pair, the ratio is per pair."""
    A, B = operands
    a, b = (x.compute() for x in operands)
    cluster = ClusterProduct(client, A, B)
    in_process, on_cluster = [], []

    def pair():
        with lmul_simd.num_threads(2):
            seconds, C = timed(lmul_simd.matmul, a, b)
        in_process.append(seconds)
        del C
        on_cluster.append(cluster())

    benchmark.pedantic(pair, rounds=ROUNDS, warmup_rounds=0)
    first_block = cluster.last.blocks[0, 0].compute()
    expected = lmul_simd.matmul(a[:CHUNK], b[:, :CHUNK])   # same product, within rounding
    assert np.max(np.abs(first_block - expected)) <= 1e-4 * np.max(np.abs(expected))
    workers = sorted(cluster.peaks[0])
    info = dict(n=N, chunk=CHUNK, workers=2, threads_per_worker=1, in_process_threads=2,
                isa=lmul_simd.get_isa(),
                in_process_s=[round(t, 3) for t in in_process],
                cluster_s=[round(t, 3) for t in on_cluster],
                speed_ratio_median=round(float(np.median(np.divide(in_process, on_cluster))), 3),
                worker_peak_mib=[max(p[w][0] for p in cluster.peaks) for w in workers],
                worker_resident_before_mib=[cluster.before[-1][w][1] for w in workers],
                worker_held_before_mib=[cluster.held[-1][w] for w in workers],
                input_block_mib=CHUNK * CHUNK * 4 // MIB)
    benchmark.extra_info.update(info)
    print(f"\nN={N} chunk={CHUNK} ({lmul_simd.get_isa()}): in-process (2 threads) "
          f"{np.median(in_process):.2f} s, cluster (2 processes) {np.median(on_cluster):.2f} s "
          f"(medians of {ROUNDS}); speed ratio, median per pair {info['speed_ratio_median']}; "
          f"worker peaks {info['worker_peak_mib']} MiB (resident before "
          f"{info['worker_resident_before_mib']} MiB, holding {info['worker_held_before_mib']} MiB)")
