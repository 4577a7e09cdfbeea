"""python -m lmul_simd: the instruction set and backend in use, then how wrong
(accuracy tables) and how fast (speed table) L-Mul is on this machine, next
to float8 (ml_dtypes), bfloat16, float16 and NumPy itself."""
import argparse
import dataclasses
import json
import os
import platform
import sys

import ml_dtypes
import numpy as np

import lmul_simd
from lmul_simd import accuracy

from . import plot, speed, tables
from .progress import Progress

SETTINGS = {
    "quick": {"samples": 1 << 16, "dot_pairs": 512, "dot_length": 128, "gemm_size": 32,
              "mantissa_samples": 1 << 16, "speed_elements": 1 << 18, "speed_gemm": 64,
              "speed_budget_s": 0.05},
    "full": {"samples": 1 << 21, "dot_pairs": 8192, "dot_length": 256, "gemm_size": 128,
             "mantissa_samples": 1 << 22, "speed_elements": 1 << 20, "speed_gemm": 128,
             "speed_budget_s": 0.5},
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m lmul_simd", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller samples and shorter timings (under 30 s)")
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE as JSON")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw error against mantissa bits (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser.parse_args(argv)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    return {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "ml_dtypes": ml_dtypes.__version__, "lmul_simd": lmul_simd.__version__,
            "backend": lmul_simd.backend, "isa": lmul_simd.get_isa(),
            "available_isas": lmul_simd.available_isas(),
            "gemm": accuracy.gemm_implementation()}


def mantissa_errors(settings, seed):
    """Exact expectations for the k that can be enumerated, samples beyond."""
    exact = [accuracy.exhaustive_mantissa_error(k)
             for k in accuracy.LMUL_KS if k <= accuracy.EXHAUSTIVE_MAX_K]
    sampled = [accuracy.sampled_mantissa_error(k, settings["mantissa_samples"], seed)
               for k in accuracy.LMUL_KS if k > accuracy.EXHAUSTIVE_MAX_K]
    return exact + sampled


def collect(settings, seed, progress):
    """Every figure of the report, as plain dicts and lists."""
    methods = accuracy.all_methods()
    common = {"methods": methods, "seed": seed, "progress": progress.step}
    multiply = accuracy.elementwise_study(settings["samples"], **common)
    figures = {
        "machine": machine(),
        "settings": dict(settings, seed=seed),
        "accuracy": {
            "multiply": multiply,
            "dot": accuracy.dot_study(settings["dot_pairs"], settings["dot_length"],
                                      **common),
            "gemm": accuracy.gemm_study(settings["gemm_size"], **common),
            "mantissa": mantissa_errors(settings, seed),
        },
        "claims": accuracy.claim_ratios(multiply),
        "speed": {"elementwise": measure_all(
                      speed.elementwise_cases(settings["speed_elements"], seed),
                      settings, progress),
                  "gemm": measure_all(speed.gemm_cases(settings["speed_gemm"], seed),
                                      settings, progress)},
    }
    return as_plain(figures)


def measure_all(cases, settings, progress):
    results = []
    for case in cases:
        results.append(speed.measure(case, settings["speed_budget_s"]))
        progress.step(f"speed {case.name}")
    return results


def as_plain(value):
    """Dataclasses to dicts, recursively: what json.dump and the tables take."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {key: as_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_plain(item) for item in value]
    return value


def step_count():
    studies = 3 * len(accuracy.all_methods()) * len(accuracy.DISTRIBUTIONS)
    cases = len(speed.elementwise_cases(1)) + len(speed.gemm_cases(1))
    return studies + cases


def report_text(figures):
    m, s = figures["machine"], figures["settings"]
    acc = figures["accuracy"]
    return "\n".join([
        f"lmul_simd {m['lmul_simd']} on {m['cpu']} ({m['cpus']} CPUs), {m['platform']}",
        f"backend {m['backend']}, instruction set {m['isa']} "
        f"(available: {', '.join(m['available_isas'])}); GEMM: {m['gemm']}",
        "",
        f"Accuracy of x*y: relative error against the exact float64 product of the "
        f"original float32 operands ({s['samples']} pairs per distribution, seed {s['seed']}).",
        "Each method rounds the same operands its own way (L-Mul k: to k mantissa bits; "
        "float formats: clipped to range, then quantized; product rounded to the format).",
        tables.multiply_table(acc["multiply"], acc["mantissa"]),
        "* exact expected error of L-Mul over uniform k-bit mantissas (every pair; "
        "k > 10 sampled); non-finite: fraction of products that overflowed the format "
        "(NaN for e4m3fn), left out of mean and max.",
        "",
        "The paper's claims as ratios of mean errors (k=4 within 25% of e4m3fn either "
        "way; k=3 below e5m2):",
        tables.claims_lines(figures["claims"]),
        "",
        f"Dot products ({s['dot_pairs']} of length {s['dot_length']}), float32 sums: "
        "|error| / sum|a_i b_i|",
        tables.sum_table(acc["dot"]),
        "",
        f"GEMM {s['gemm_size']}^3 ({m['gemm']}; float formats: quantized operands, "
        "float32 matmul): |error| / (|A|@|B|)",
        tables.sum_table(acc["gemm"]),
        "",
        "Speed (best of repeated calls; float32 operands unless named):",
        tables.speed_table(figures["speed"]["elementwise"] + figures["speed"]["gemm"]),
    ])


def main(argv=None):
    args = parse_args(argv)
    if args.plot:
        try:
            plot.import_pyplot()
        except ImportError as error:
            print(f"python -m lmul_simd: {error}", file=sys.stderr)
            return 2
    settings = SETTINGS["quick" if args.quick else "full"]
    progress = Progress(step_count())
    try:
        figures = collect(settings, args.seed, progress)
    finally:
        progress.close()
    print(report_text(figures))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
    if args.plot:
        plot.plot_error_vs_bits(figures, args.plot)
    return 0
