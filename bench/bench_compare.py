"""L-Mul against NumPy and float8 emulation (issue #6), pytest-benchmark.

    python -m pytest bench/bench_compare.py --benchmark-only \
        --benchmark-json .benchmarks/compare.json  && python bench/summarize.py .benchmarks/compare.json

Elementwise (float32 operands, preallocated output): np.multiply; L-Mul on
every backend that imports and, for the C backend, every instruction set;
L-Mul k = 4; float8 e4m3fn / e5m2 and bfloat16 multiplication by ml_dtypes
(float8 operands, multiplied, product rounded to float8); L-Mul on float8
operands; and the whole float8 emulation from float32 data.
GEMM: numpy.matmul (OpenBLAS, all threads and one thread via threadpoolctl),
float8-emulated GEMM (operands quantized to float8, float32 matmul), the
NumPy emulation of the L-Mul GEMM (every product materialised, summed in
float32) and lmul_simd.matmul once the package has it.

Each size is one benchmark group whose first case is the NumPy baseline, so
the table reads at a glance. The cases are those of ``python -m lmul_simd``
(lmul_simd._report.speed).
"""
import pytest

from lmul_simd._report.speed import elementwise_cases, gemm_cases

ELEMENTWISE_SIZES = (1 << 16, 1 << 20)
GEMM_SIZES = (64, 128, 256)

CASES = {f"{case.group}: {case.name}": case
         for case in [*(c for n in ELEMENTWISE_SIZES for c in elementwise_cases(n)),
                      *(c for size in GEMM_SIZES for c in gemm_cases(size))]}


@pytest.mark.parametrize("name", list(CASES))
def test_compare(benchmark, name):
    case = CASES[name]
    benchmark.group = case.group
    benchmark.extra_info.update(work=case.work, unit=case.unit)
    with case.setting():
        benchmark(case.run)
