"""Speed cases, shared by ``python -m lmul_simd`` and bench/bench_compare.py.

A case is one call that does the work on preallocated operands, the setting
it runs under (instruction set, BLAS thread count) and how much work one
call is. The first case of every group is the NumPy baseline the others are
compared with.
"""
import contextlib
import time
from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np

import lmul_simd
from lmul_simd import _backend
from lmul_simd.accuracy import (emulated_lmul_matmul, format_matmul, format_multiply,
                                gemm_implementation, lmul_matmul)

__all__ = ["SpeedCase", "SpeedResult", "elementwise_cases", "gemm_cases",
           "lmul_backends", "measure", "warm_up", "EMULATED_GEMM_MAX_SIZE"]

EMULATED_GEMM_MAX_SIZE = 256     # the NumPy L-Mul GEMM materialises every product
FLOAT8 = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}


@dataclass(frozen=True)
class SpeedCase:
    name: str
    group: str
    run: Callable[[], object]
    setting: Callable[[], contextlib.AbstractContextManager]
    work: int                    # elements, or multiply-adds for a GEMM
    unit: str                    # "element" or "multiply-add"


@dataclass(frozen=True)
class SpeedResult:
    name: str
    group: str
    seconds: float               # best time of one call
    calls: int                   # calls timed
    work: int
    unit: str
    ns_per_unit: float


def lmul_backends():
    """(label, backend module, ISA or None) for every backend that imports;
    the C backend once per instruction set this machine runs."""
    found = []
    for name in sorted(_backend.BACKENDS):
        try:
            module = _backend.get(name)
        except ImportError:
            continue
        if name == "c":
            found += [(f"c/{isa}", module, isa) for isa in lmul_simd.available_isas()]
        else:
            found.append((name, module, None))
    return found


def _isa_setting(isa):
    return (lambda: lmul_simd.use_isa(isa)) if isa else contextlib.nullcontext


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return lambda: threadpool_limits(limits=1, user_api="blas")


def elementwise_cases(n, seed=0):
    """float32 products of n pairs: np.multiply, L-Mul on every backend and
    ISA, L-Mul k = 4, and float8 / bfloat16 multiplication by ml_dtypes."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, n)).astype(np.float32)
    out = np.empty(n, np.float32)
    group = f"elementwise n={n}"

    def case(name, run, setting=contextlib.nullcontext):
        return SpeedCase(name, group, run, setting, n, "element")

    cases = [case("numpy float32 multiply", lambda: np.multiply(x, y, out=out))]
    for label, module, isa in lmul_backends():
        cases.append(case(f"L-Mul {label}", lambda m=module: m.multiply(x, y, out=out),
                          _isa_setting(isa)))
    k4 = lmul_simd.multiply_k(4)
    cases.append(case(f"L-Mul k=4 {lmul_simd.backend}/{lmul_simd.get_isa()}",
                      lambda: k4(x, y, out=out)))
    for fmt, dtype in {**FLOAT8, "bfloat16": ml_dtypes.bfloat16}.items():
        xq, yq, outq = x.astype(dtype), y.astype(dtype), np.empty(n, dtype)
        cases.append(case(f"{fmt} multiply (ml_dtypes)",
                          lambda a=xq, b=yq, o=outq: np.multiply(a, b, out=o)))
    for fmt, dtype in FLOAT8.items():
        xq, yq = x.astype(dtype), y.astype(dtype)
        cases.append(case(f"L-Mul on {fmt} operands",
                          lambda a=xq, b=yq: lmul_simd.multiply(a, b, out=out)))
    cases.append(case("e4m3fn emulated from float32",
                      lambda: format_multiply(x, y, "e4m3fn")))
    return cases


def gemm_cases(size, seed=0):
    """size^3 float32 GEMM: numpy.matmul (OpenBLAS, one thread and all),
    float8-emulated GEMM, the NumPy emulation of the L-Mul GEMM (sizes up to
    EMULATED_GEMM_MAX_SIZE) and lmul_simd.matmul once the package has it."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, size, size)).astype(np.float32)
    group = f"gemm {size}x{size}x{size}"

    def case(name, run, setting=contextlib.nullcontext):
        return SpeedCase(name, group, run, setting, size ** 3, "multiply-add")

    cases = [case("numpy.matmul float32, all threads", lambda: np.matmul(a, b))]
    one_thread = _one_blas_thread()
    if one_thread:
        cases.append(case("numpy.matmul float32, 1 thread", lambda: np.matmul(a, b),
                          one_thread))
    # single-threaded like the emulated L-Mul GEMM (and spared the wake-up of
    # BLAS threads between the quantizing and the matmul, which is noisy)
    threads = ", 1 thread" if one_thread else ""
    cases += [case(f"{fmt}-emulated GEMM{threads}", lambda f=fmt: format_matmul(a, b, f),
                   one_thread or contextlib.nullcontext)
              for fmt in FLOAT8]
    if hasattr(lmul_simd, "matmul_k"):
        cases.append(case(gemm_implementation(), lambda: lmul_matmul(a, b, 23)))
    if size <= EMULATED_GEMM_MAX_SIZE:
        cases.append(case("numpy-emulated L-Mul GEMM",
                          lambda: emulated_lmul_matmul(a, b, 23)))
    return cases


def warm_up(run, max_s=5.0):
    """Call `run` until it stops getting faster (JIT compilation, disk-cache
    loads, thread pools and caches warming up): until a call takes at least
    half as long as the one before it, for at most about `max_s` seconds
    after the first call."""
    previous = _timed(run)
    deadline = time.perf_counter() + max_s
    while time.perf_counter() < deadline:
        current = _timed(run)
        if current >= previous / 2:
            return
        previous = current


def _timed(run):
    begin = time.perf_counter()
    run()
    return time.perf_counter() - begin


def measure(case, budget_s=0.2, min_calls=3, max_calls=1000):
    """Best time of one call of `case` under its setting, after warming it
    up (:func:`warm_up`), repeating for about `budget_s` seconds."""
    if budget_s < 0 or min_calls < 1:
        raise ValueError("budget_s must be >= 0 and min_calls >= 1")
    times = []
    with case.setting():
        warm_up(case.run)
        start = time.perf_counter()
        while len(times) < min_calls or (time.perf_counter() - start < budget_s
                                         and len(times) < max_calls):
            begin = time.perf_counter()
            case.run()
            times.append(time.perf_counter() - begin)
    best = min(times)
    return SpeedResult(case.name, case.group, best, len(times), case.work, case.unit,
                       best / case.work * 1e9)
