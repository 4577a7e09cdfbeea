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
    ratio: float            # median over rounds of reference time / candidate time
    reference_s: float      # median call times over every round (NumPy's, say)
    candidate_s: float      # (lmul_simd's)

    def info(self):
        """The figures for pytest-benchmark's extra_info, NumPy the reference."""
        return dict(ratio_vs_numpy=round(self.ratio, 3),
                    numpy_median_us=round(self.reference_s * 1e6, 1),
                    lmul_median_us=round(self.candidate_s * 1e6, 1))


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


def compare(reference_call, candidate_call, rounds=7, calls=15, inner=1, pause=PAUSE_S):
    """reference_call and candidate_call (no arguments: NumPy's and
    lmul_simd's, say) timed in `rounds` rounds of one block of `calls`
    timings (of `inner` calls each) each."""
    ratios, reference_times, candidate_times = [], [], []
    for r in range(rounds):
        order = [(reference_call, reference_times), (candidate_call, candidate_times)]
        medians = {}
        for call, sink in (order if r % 2 == 0 else order[::-1]):
            time.sleep(pause)
            times = _block(call, calls, inner)
            sink.extend(times)
            medians[call] = np.median(times)
        ratios.append(medians[reference_call] / medians[candidate_call])
    return Comparison(float(np.median(ratios)), float(np.median(reference_times)),
                      float(np.median(candidate_times)))
