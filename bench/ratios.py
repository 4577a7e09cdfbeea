"""How the benchmarks compare lmul_simd with NumPy: ratios of call times
measured in the same run, in blocks.

A round times a block of calls of NumPy, then a block of lmul_simd (which
goes first alternates from round to round), with a pause before each block.
The pause matters: OpenBLAS's worker threads keep polling for work for a
while after each call (lmul_simd's pool too, LMUL_SIMD_SPIN_US), so calls
of the two libraries interleaved one by one share the cores with the other
library's idle threads, and both are slowed by a load no program that uses
one of them sees. Each block starts with WARM_S of untimed calls. The ratio of a round is NumPy's median call time over
lmul_simd's (>= 1: lmul_simd faster); the result is the median over rounds.
"""
import time
from dataclasses import dataclass

import numpy as np

PAUSE_S = 0.2
WARM_S = 0.05


@dataclass
class Comparison:
    ratio: float            # median over rounds of numpy time / lmul_simd time
    numpy_s: float          # median call times over every round
    lmul_s: float

    def info(self):
        """The figures for pytest-benchmark's extra_info."""
        return dict(ratio_vs_numpy=round(self.ratio, 3),
                    numpy_median_us=round(self.numpy_s * 1e6, 1),
                    lmul_median_us=round(self.lmul_s * 1e6, 1))


def _block(call, calls, inner):
    # calls first, untimed, for WARM_S: after the pause the cores come back
    # slowly (caches, clocks, a virtual CPU the host parked), so the first
    # milliseconds of calls are slower for either library
    end = time.perf_counter() + WARM_S
    call()
    while time.perf_counter() < end:
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        times.append((time.perf_counter() - start) / inner)
    return times


def compare(numpy_call, lmul_call, rounds=7, calls=15, inner=1, pause=PAUSE_S):
    """numpy_call and lmul_call (no arguments) timed in `rounds` rounds of
    one block of `calls` timings (of `inner` calls each) per library."""
    ratios, numpy_times, lmul_times = [], [], []
    for r in range(rounds):
        order = [(numpy_call, numpy_times), (lmul_call, lmul_times)]
        medians = {}
        for call, sink in (order if r % 2 == 0 else order[::-1]):
            time.sleep(pause)
            times = _block(call, calls, inner)
            sink.extend(times)
            medians[call] = np.median(times)
        ratios.append(medians[numpy_call] / medians[lmul_call])
    return Comparison(float(np.median(ratios)), float(np.median(numpy_times)),
                      float(np.median(lmul_times)))
