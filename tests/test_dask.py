"""L-Mul on Dask arrays (docs/contract.md section 7): the ufuncs chunk by
chunk, bit for bit; lmul_simd.dask.matmul / vecdot within the chunked-sum
bound, in their documented order of summation; and both on a real
dask.distributed cluster of two worker processes, one of them killed in the
middle of a computation."""
import logging
import math
import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is an optional extra (lmul_simd[dask])")
distributed = pytest.importorskip("distributed", reason="part of the dask extra")
ml_dtypes = pytest.importorskip("ml_dtypes")

import lmul_simd  # noqa: E402
import lmul_simd.dask as ldask  # noqa: E402
from lmul_simd import reference  # noqa: E402
from lmul_cases import CONTAINERS, random_bits, special_bits  # noqa: E402
from test_elementwise_exact import assert_same_bits  # noqa: E402

BF16, E4M3, E5M2 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2
FORMATS = [np.float64, np.float32, np.float16, BF16, E4M3, E5M2]
U = {np.dtype(np.float32): 2.0 ** -24, np.dtype(np.float64): 2.0 ** -53}
# one final rounding of the float32 sum: half an ulp (relative), and half the
# smallest subnormal below the normal range
FINAL_ROUNDING = {np.dtype(np.float16): (2.0 ** -11, 2.0 ** -25),
                  np.dtype(BF16): (2.0 ** -8, 2.0 ** -134)}


def fmt_id(dtype):
    return np.dtype(dtype).name


def random(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def refined_chunks(*chunkings):
    """The chunks of K after the common refinement of the operands' chunks."""
    edges = sorted({int(e) for chunks in chunkings for e in np.cumsum((0,) + chunks)})
    return tuple(np.diff(edges))


def assert_within_chunked_bound(got, a, b, k_chunks, k=None):
    """|C - S| <= (Kc + h + 3) u sum|p|, h = ceil(log2 n) for n chunks of K of
    at most Kc elements (docs/contract.md section 7), plus one final rounding
    for float16 and bfloat16 results. S and p from lmul_simd.reference."""
    S, magnitudes = reference.exact_products_sum(a, b, k)
    fmt = np.result_type(a, b)
    container = reference.container_for(fmt).dtype
    h = math.ceil(math.log2(len(k_chunks))) if len(k_chunks) > 1 else 0
    bound = (max(k_chunks, default=0) + h + 3) * U[container] * magnitudes
    if got.dtype in FINAL_ROUNDING:
        relative, absolute = FINAL_ROUNDING[got.dtype]
        bound += relative * (np.abs(S) + bound) + absolute
    assert np.all(np.isfinite(S)), "the data must give finite sums"
    error = np.abs(np.asarray(got, np.float64) - S)
    assert np.all(error <= bound), f"worst excess {np.max(error - bound)}"


def in_pairs(parts):
    """The sum of `parts` in the order of section 7: adjacent pairs, level by
    level, an odd last one passed up unchanged."""
    while len(parts) > 1:
        parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


# --- lmul_simd.dask.matmul / vecdot -----------------------------------------

@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_matmul_within_the_chunked_bound(dtype):
    rng = np.random.default_rng(1)
    A, B = random(rng, (40, 150), dtype), random(rng, (150, 30), dtype)
    k_chunks = (40, 40, 40, 30)
    C = ldask.matmul(da.from_array(A, chunks=(16, k_chunks)),
                     da.from_array(B, chunks=(k_chunks, 7)))
    assert C.dtype == reference.result_dtype(dtype) and C.numblocks == (3, 5)
    got = C.compute()
    assert got.dtype == C.dtype and got.shape == (40, 30)
    assert_within_chunked_bound(got, A, B, k_chunks)


@pytest.mark.parametrize("dtype", [np.float32, BF16, E4M3], ids=fmt_id)
@pytest.mark.parametrize("k", [3, 5])
def test_matmul_k_within_the_chunked_bound(dtype, k):
    rng = np.random.default_rng(2)
    A, B = random(rng, (20, 64), dtype), random(rng, (64, 12), dtype)
    got = ldask.matmul_k(k)(da.from_array(A, chunks=(8, 24)), da.from_array(B, chunks=24))
    assert_within_chunked_bound(got.compute(), A, B, (24, 24, 16), k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, BF16], ids=fmt_id)
def test_the_partial_products_meet_in_pairs_in_the_container(dtype):
    """Bit for bit the documented order: block products of lmul_simd.matmul
    in the container (float32 for float16 and bfloat16), added in pairs."""
    rng = np.random.default_rng(3)
    A, B = random(rng, (12, 100), dtype), random(rng, (100, 9), dtype)
    edges = [0, 20, 40, 60, 80, 100]
    container = reference.container_for(dtype).dtype
    k = reference.default_k(dtype)
    parts = [lmul_simd.matmul_k(k)(A[:, i:j].astype(container), B[i:j].astype(container))
             for i, j in zip(edges, edges[1:])]
    expected = in_pairs(parts).astype(reference.result_dtype(dtype))
    got = ldask.matmul(da.from_array(A, chunks=(12, 20)), da.from_array(B, chunks=(20, 9)))
    assert_same_bits(got.compute(), expected)


def test_one_chunk_of_k_is_the_in_memory_product_of_the_blocks():
    rng = np.random.default_rng(4)
    A, B = random(rng, (30, 50), np.float32), random(rng, (50, 20), np.float32)
    got = ldask.matmul(da.from_array(A, chunks=(10, 50)), da.from_array(B, chunks=(50, 20)))
    expected = np.concatenate([lmul_simd.matmul(A[i:i + 10], B) for i in (0, 10, 20)])
    assert_same_bits(got.compute(), expected)


@pytest.mark.parametrize("shapes, chunks", [
    (((2, 1, 20, 48), (3, 48, 10)), ((1, 1, 8, 16), (2, 16, 5))),   # batch broadcast
    (((48,), (4, 48, 10)), ((16,), (2, 16, 10))),                    # 1-D @ batch
    (((5, 20, 48), (48,)), ((2, 20, 16), (16,))),                    # batch @ 1-D
    (((48,), (48,)), ((16,), (24,))),                                # 1-D @ 1-D
])
def test_matmul_shapes_follow_numpy(shapes, chunks):
    rng = np.random.default_rng(5)
    A, B = (random(rng, shape, np.float32) for shape in shapes)
    dA, dB = da.from_array(A, chunks=chunks[0]), da.from_array(B, chunks=chunks[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", da.PerformanceWarning)   # K chunks 16 vs 24
        C = ldask.matmul(dA, dB)
    expected_shape = np.matmul(A, B).shape
    assert C.shape == expected_shape
    got = np.asarray(C.compute())
    assert got.shape == expected_shape
    A2 = A[np.newaxis] if A.ndim == 1 else A
    B2 = B[:, np.newaxis] if B.ndim == 1 else B
    full = np.asarray(lmul_simd.matmul(A2, B2))   # the in-memory product, 2-D operands
    k_chunks = refined_chunks(dA.chunks[-1], dB.chunks[-1 if B.ndim == 1 else -2])
    assert_within_chunked_bound(got.reshape(full.shape), A2, B2, k_chunks)


@pytest.mark.parametrize("shapes", [((3, 0), (0, 4)), ((0, 5), (5, 2)), ((2, 5), (5, 0))])
def test_empty_operands_give_numpys_shapes(shapes):
    A, B = (np.ones(shape, np.float32) for shape in shapes)
    got = ldask.matmul(da.from_array(A, chunks=2), da.from_array(B, chunks=2)).compute()
    assert_same_bits(got, lmul_simd.matmul(A, B))


def test_k_chunks_that_differ_are_rechunked_to_their_common_refinement():
    rng = np.random.default_rng(6)
    A, B = random(rng, (10, 60), np.float32), random(rng, (60, 8), np.float32)
    C = ldask.matmul(da.from_array(A, chunks=(10, 25)), da.from_array(B, chunks=(20, 8)))
    assert C.chunks == ((10,), (8,))
    k_chunks = refined_chunks((25, 25, 10), (20, 20, 20))
    assert k_chunks == (20, 5, 15, 10, 10)
    assert_within_chunked_bound(C.compute(), A, B, k_chunks)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, E5M2], ids=fmt_id)
def test_vecdot_within_the_chunked_bound(dtype):
    rng = np.random.default_rng(7)
    a, b = random(rng, (3, 1, 90), dtype), random(rng, (4, 90), dtype)
    got = ldask.vecdot(da.from_array(a, chunks=(1, 1, 30)), da.from_array(b, chunks=(2, 30)))
    assert got.shape == (3, 4) and got.dtype == reference.result_dtype(dtype)
    a, b = np.broadcast_arrays(a, b)
    assert_within_chunked_bound(got.compute()[..., None, None], a[..., None, :],
                                b[..., :, None], (30, 30, 30))
    one = ldask.vecdot_k(4)(da.from_array(a[0, 0], chunks=40), da.from_array(b[0, 0], chunks=40))
    assert one.shape == ()
    assert_within_chunked_bound(np.asarray(one.compute()).reshape(1, 1), a[0, :1], b[0, 0, :, None],
                                (40, 40, 10), 4)


def test_non_finite_sums_across_chunks_follow_the_rules_and_raise_the_gemm_flags():
    """inf - inf and an overflow met only where two chunks' partial sums meet:
    the values of the in-memory product, and the flags section 6 gives the
    GEMM (overflow, invalid), reported in the thread that runs the task."""
    A = np.ones((2, 8), np.float32)
    B = np.ones((8, 2), np.float32)
    A[0, 0], A[0, 7] = np.inf, -np.inf          # inf - inf across two chunks: NaN
    A[1, 0] = A[1, 7] = np.float32(3e38)        # the sum of two chunks overflows: inf
    C = ldask.matmul(da.from_array(A, chunks=(2, 4)), da.from_array(B, chunks=(4, 2)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = C.compute(scheduler="sync")
    flags = {word for w in caught for word in ("overflow", "invalid") if word in str(w.message)}
    assert flags == {"overflow", "invalid"}
    with np.errstate(all="ignore"):
        expected = lmul_simd.matmul(A, B)
    assert np.isnan(got[0]).all() and np.isnan(expected[0]).all()
    assert (got[1] == np.inf).all() and (expected[1] == np.inf).all()
    with np.errstate(over="raise", invalid="ignore"), pytest.raises(FloatingPointError):
        C.compute(scheduler="sync")


def test_matmul_is_lazy_and_leaves_its_inputs_alone():
    def never(block):
        raise AssertionError("computed while the graph was being built")
    lazy = da.ones((8, 8), dtype=np.float32, chunks=4).map_blocks(never, meta=np.empty((0, 0), np.float32))
    C = ldask.matmul(lazy, lazy)
    with pytest.raises(AssertionError, match="computed while"):
        C.compute()
    A = np.arange(24, dtype=np.float32).reshape(4, 6)
    copy = A.copy()
    ldask.matmul(da.from_array(A, chunks=2), A.T).compute()
    assert_same_bits(A, copy)


@pytest.mark.parametrize("call, message", [
    (lambda: ldask.matmul(da.ones(3), np.float32(2)), "scalar"),
    (lambda: ldask.matmul(da.ones((2, 3)), da.ones((4, 2))), "does not match"),
    (lambda: ldask.matmul(da.ones((2, 2, 3)), da.ones((3, 3, 2))), "do not broadcast"),
    (lambda: ldask.vecdot(da.ones((2, 3)), da.ones(4)), "differ"),
    (lambda: ldask.matmul_k(30)(da.ones((2, 2), dtype=np.float32), da.ones((2, 2), dtype=np.float32)),
     "out of range"),
    (lambda: ldask.matmul(da.ones((2, 2), dtype=int), da.ones((2, 2), dtype=int)), "not defined"),
])
def test_bad_operands_are_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_unknown_chunk_sizes_are_a_clear_error():
    x = da.ones(10, chunks=5)
    unknown = x[x > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        ldask.vecdot(unknown, unknown)


@pytest.mark.parametrize("bad_k", [0, 53, True, 2.0])
def test_bad_k_is_refused_at_once(bad_k):
    with pytest.raises((ValueError, TypeError)):
        ldask.matmul_k(bad_k)


# --- lmul_simd.matmul and vecdot themselves on Dask arrays -----------------

@pytest.mark.skipif(not isinstance(lmul_simd.matmul, np.ufunc),
                    reason="the Numba backend's matmul is a Python function (it computes "
                           "Dask operands in memory)")
def test_the_gufuncs_on_dask_arrays_are_the_chunked_functions():
    rng = np.random.default_rng(8)
    a = da.from_array(random(rng, (20, 45), np.float32), chunks=(10, 15))
    b = da.from_array(random(rng, (45, 6), np.float32), chunks=(15, 6))
    for gufunc, chunked in [(lmul_simd.matmul, ldask.matmul), (lmul_simd.matmul_k(5), ldask.matmul_k(5))]:
        C = gufunc(a, b)
        assert isinstance(C, da.Array)
        assert_same_bits(C.compute(), chunked(a, b).compute())
    v = lmul_simd.vecdot_k(6)(a, a)             # K in three chunks: the chunked vecdot
    assert_same_bits(v.compute(), ldask.vecdot_k(6)(a, a).compute())
    with pytest.raises(TypeError, match="lmul_simd.dask.matmul"):
        lmul_simd.matmul(a, b, axes=[(-2, -1), (-2, -1), (-2, -1)])


def test_other_ufuncs_on_dask_arrays_are_untouched():
    x = da.arange(6, chunks=3, dtype=np.float32)
    assert_same_bits(np.add(x, x).compute(), np.arange(6, dtype=np.float32) * 2)
    assert_same_bits(np.matmul(x, x).compute(), np.float32(55))


# --- the ufuncs on Dask arrays, chunk by chunk ------------------------------

def operands(dtype, seed):
    """Pairs of operands of `dtype`: every float8 pair; for 16-bit formats
    all patterns against random ones; specials and random bits otherwise."""
    dtype = np.dtype(dtype)
    if dtype.itemsize == 1:
        bits = np.arange(256, dtype=np.uint8)
        x, y = np.meshgrid(bits, bits, indexing="ij")
    elif dtype.itemsize == 2:
        x = np.arange(2 ** 16, dtype=np.uint16).reshape(256, 256)
        y = np.random.default_rng(seed).permutation(x.ravel()).reshape(256, 256)
    else:
        c = CONTAINERS[dtype]
        specials = special_bits(c)
        bits = np.concatenate([specials, random_bits(c, 256 - specials.size, seed)])
        x, y = np.meshgrid(bits, np.roll(bits, 7), indexing="ij")
    return x.view(dtype), y.view(dtype)


@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
@pytest.mark.parametrize("k", [None, 2])
def test_ufuncs_on_dask_arrays_are_the_in_memory_bits(dtype, k):
    x, y = operands(dtype, seed=9)
    ufunc = lmul_simd.multiply if k is None else lmul_simd.multiply_k(k)
    dx, dy = da.from_array(x, chunks=(100, 64)), da.from_array(y, chunks=(64, 100))
    product = ufunc(dx, dy)
    assert isinstance(product, da.Array)
    assert product.dtype == reference.result_dtype(dtype)
    assert product.chunks == tuple(refined_chunks(cx, cy) for cx, cy in zip(dx.chunks, dy.chunks))
    with np.errstate(all="ignore"):
        assert_same_bits(product.compute(), ufunc(x, y))
    row = ufunc(dx, dy[:1])                           # broadcasting, chunk by chunk
    assert_same_bits(row.compute(), ufunc(x, y[:1]))


def test_ufunc_graph_errors_come_at_once_and_say_why():
    x = da.ones(4, dtype=np.float32, chunks=2)
    with pytest.raises(ValueError, match="out of range"):
        lmul_simd.multiply_k(30)(x, x)


@pytest.mark.parametrize("factory", [lmul_simd.multiply_k, lmul_simd.matmul_k, lmul_simd.vecdot_k])
def test_the_k_ufuncs_travel_to_workers_by_name(factory):
    import pickle
    ufunc = factory(5)
    assert pickle.loads(pickle.dumps(ufunc)) is ufunc


# --- a dask.distributed cluster of two worker processes ---------------------

@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback; they import this
    lmul_simd (PYTHONPATH=src here, the installed package in CI)."""
    package_root = os.path.dirname(os.path.dirname(lmul_simd.__file__))
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.CRITICAL,
                                  env={"PYTHONPATH": path}) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def worker_pids(client):
    return set(client.run(os.getpid).values())


def test_workers_run_this_lmul_simd(client):
    files = client.run(lambda: __import__("lmul_simd").__file__)
    assert len(files) == 2 and set(files.values()) == {lmul_simd.__file__}
    assert os.getpid() not in worker_pids(client)


@pytest.mark.parametrize("dtype", [np.float32, BF16, E4M3], ids=fmt_id)
def test_ufuncs_on_the_cluster_are_the_in_memory_bits(client, dtype):
    x, y = operands(dtype, seed=10)
    dx, dy = da.from_array(x, chunks=128), da.from_array(y, chunks=128)
    for ufunc in (lmul_simd.multiply, lmul_simd.multiply_k(3)):
        with np.errstate(all="ignore"):
            assert_same_bits(client.compute(ufunc(dx, dy)).result(), ufunc(x, y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, BF16], ids=fmt_id)
def test_matmul_on_the_cluster(client, dtype):
    """Within the bound, and the bits of the same graph run in this process:
    the order of section 7 does not depend on the scheduler or the workers."""
    rng = np.random.default_rng(11)
    A, B = random(rng, (60, 120), dtype), random(rng, (120, 50), dtype)
    C = ldask.matmul(da.from_array(A, chunks=(30, 40)), da.from_array(B, chunks=(40, 25)))
    got = client.compute(C).result()
    assert_within_chunked_bound(got, A, B, (40, 40, 40))
    assert_same_bits(got, C.compute(scheduler="sync"))


def test_a_worker_killed_mid_computation_is_retried(client, tmp_path):
    """One task kills its worker process on its first try; the nanny starts
    a new worker, Dask runs the lost tasks again, the bits are the same."""
    marker = str(tmp_path / "killed")
    client_pid = os.getpid()

    def exit_once(block, block_info=None):
        if block_info[None]["chunk-location"] == (1, 2) and os.getpid() != client_pid \
                and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return block

    rng = np.random.default_rng(12)
    A, B = random(rng, (64, 128), np.float32), random(rng, (128, 48), np.float32)
    dA, dB = da.from_array(A, chunks=(32, 32)), da.from_array(B, chunks=(32, 24))
    before = worker_pids(client)
    killer = dA.map_blocks(exit_once, meta=np.empty((0, 0), np.float32))
    got = client.compute(ldask.matmul(killer, dB)).result()
    assert os.path.exists(marker), "no worker was killed"
    assert_same_bits(got, ldask.matmul(dA, dB).compute(scheduler="sync"))
    client.wait_for_workers(2, timeout=60)
    assert worker_pids(client) != before


@pytest.mark.parametrize("imports", ["import lmul_simd, dask.array as da",
                                     "import dask.array as da, lmul_simd"])
def test_lmul_simd_matmul_reaches_dask_without_importing_lmul_simd_dask(imports):
    """Whichever is imported first, lmul_simd.matmul on Dask arrays is the
    chunked product (lmul_simd.dask is imported when dask.array is)."""
    import subprocess
    import sys
    code = imports + """
import sys, numpy as np
a = np.arange(1, 49, dtype=np.float32).reshape(6, 8)
C = lmul_simd.matmul(da.from_array(a, chunks=(3, 8)), da.from_array(a.T, chunks=(8, 3)))  # K one chunk: the in-memory bits
assert type(C).__name__ == "Array", type(C)
assert "lmul_simd.dask" in sys.modules
print(np.array_equal(np.asarray(C), lmul_simd.matmul(a, a.T)))
"""
    if lmul_simd.backend != "c":
        pytest.skip("on the Numba backend matmul is a Python function that computes eagerly")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
