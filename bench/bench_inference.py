"""Inference-shaped products (pytest-benchmark): the few-row (GEMV) path,
vecdot and mixed operand formats, against NumPy in the same run, all threads.

    python -m pytest bench/bench_inference.py --benchmark-only
    python bench/bench_inference.py            # the table of ratios only

Each case records `ratio_vs_numpy` in extra_info: the NumPy reference's
median time over lmul_simd's, measured in blocks in the same run
(bench/ratios.py: >= 1 means lmul_simd is faster). The NumPy reference is numpy.matmul on
float32 operands (for the narrow-weight cases too: the float32 GEMV the
narrow weights replace) or numpy.vecdot. Each case runs on the native level
and on AVX2 forced. The issue's goals (issue 10): 1x4096 @ 4096x4096
>= 0.8x (both layouts), 16x384 @ 384x1536 >= 0.7x, vecdot 1000x256 >= 0.8x,
bfloat16 weights >= 1.5x and float8 e4m3fn weights >= 2.0x NumPy's float32
GEMV. No timing is asserted. gemv_x@W.T_pruned (half of W zero, as
magnitude pruning leaves it; NumPy's GEMV gains nothing from the zeros)
shows the masked loops on B's zeros.
"""
import numpy as np
import pytest

import lmul_simd
from ratios import compare

try:
    import ml_dtypes
except ImportError:          # the narrow-weight cases are skipped
    ml_dtypes = None

ISAS = [i for i in ("avx512", "avx2") if i in lmul_simd.available_isas()]


def _operands(case):
    rng = np.random.default_rng(1)
    x4096 = rng.standard_normal((1, 4096)).astype(np.float32)
    w4096 = rng.standard_normal((4096, 4096)).astype(np.float32)
    if case == "gemv_x@W":
        return np.matmul, x4096, w4096, x4096, w4096
    if case == "gemv_x@W.T":
        w_t = np.ascontiguousarray(w4096.T).T            # nn.Linear's layout
        return np.matmul, x4096, w_t, x4096, w_t
    if case == "gemv_x@W.T_pruned":                        # half the weights zero
        w_p = np.where(rng.random(w4096.shape) < 0.5, np.float32(0), w4096)
        w_t = np.ascontiguousarray(w_p.T).T
        return np.matmul, x4096, w_t, x4096, w_t
    if case in ("gemv_bf16", "gemv_e4m3fn"):
        fmt = ml_dtypes.bfloat16 if case == "gemv_bf16" else ml_dtypes.float8_e4m3fn
        return np.matmul, x4096, w4096, x4096, w4096.astype(fmt)
    if case == "16x384@384x1536":
        a = rng.standard_normal((16, 384)).astype(np.float32)
        b = rng.standard_normal((384, 1536)).astype(np.float32)
        return np.matmul, a, b, a, b
    if case == "1x384@384x1536":
        a = rng.standard_normal((1, 384)).astype(np.float32)
        b = rng.standard_normal((384, 1536)).astype(np.float32)
        return np.matmul, a, b, a, b
    x = rng.standard_normal((1000, 256)).astype(np.float32)
    y = rng.standard_normal((1000, 256)).astype(np.float32)
    return np.vecdot, x, y, x, y


CASES = ["gemv_x@W", "gemv_x@W.T", "gemv_x@W.T_pruned", "16x384@384x1536",
         "1x384@384x1536", "vecdot_1000x256", "gemv_bf16", "gemv_e4m3fn"]


def ratio(case, isa):
    """The comparison of lmul_simd with the NumPy reference on `case`."""
    ref, ra, rb, la, lb = _operands(case)
    ours = lmul_simd.vecdot if ref is np.vecdot else lmul_simd.matmul
    with lmul_simd.use_isa(isa):
        return compare(lambda: ref(ra, rb), lambda: ours(la, lb))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES)
def test_inference_shape(benchmark, case, isa):
    if case.startswith("gemv_") and case[5:] in ("bf16", "e4m3fn") and ml_dtypes is None:
        pytest.skip("the narrow formats need ml_dtypes")
    comparison = ratio(case, isa)
    _, _, _, la, lb = _operands(case)
    ours = lmul_simd.vecdot if case.startswith("vecdot") else lmul_simd.matmul
    with lmul_simd.use_isa(isa):
        benchmark.pedantic(ours, (la, lb), rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(isa=isa, native=lmul_simd.best_isa(),
                                threads=lmul_simd.get_num_threads(), **comparison.info())


if __name__ == "__main__":
    print(f"native level {lmul_simd.best_isa()}, {lmul_simd.get_num_threads()} threads; "
          "ratio = NumPy median / lmul_simd median (>= 1: lmul_simd faster)")
    for case in CASES:
        if case in ("gemv_bf16", "gemv_e4m3fn") and ml_dtypes is None:
            continue
        for isa in ISAS:
            c = ratio(case, isa)
            print(f"{case:18s} {isa:7s} ratio {c.ratio:5.2f}  numpy "
                  f"{c.reference_s * 1e6:8.1f} us  lmul {c.candidate_s * 1e6:8.1f} us", flush=True)
