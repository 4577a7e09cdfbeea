"""Benchmark of the numba.cuda path on a real GPU (issue #5).

    python bench/bench_cuda.py --out bench/results/cuda_<gpu>.json [--sass DIR]

1. Elementwise float32 L-Mul over 2^28 elements against a device-to-device
   copy of the same size in the same run: bandwidth counts bytes read and
   written (3 x 4 bytes per element for L-Mul, 2 x 4 for the copy).
2. GEMM float32 4096^3 against cuBLAS float32 with TF32 off (torch.matmul, or
   CuPy when PyTorch is missing), with tame operands (the fast path), with 1%
   zeros (the sparse path) and with 1% huge values (the general path);
   float64 2048^3 for scale. --sweep also times other tile shapes.
Each figure is the median over repeats of the mean time of a burst of calls,
timed with CUDA events; results are checked against the NumPy reference on a
slice first.
"""
import argparse
import json
import platform
import statistics
import sys

import numpy as np
from numba import cuda

from lmul_simd import cuda as lcuda
from lmul_simd import reference
from lmul_simd.cuda._bits import SIMULATOR

ELEMENTS = 1 << 28
GEMM_SIZE = 4096
GEMM64_SIZE = 2048


def time_ms(fn, burst, repeats):
    """Median over `repeats` of the mean time of `burst` back-to-back calls."""
    fn()
    cuda.synchronize()
    means = []
    for _ in range(repeats):
        start, end = cuda.event(), cuda.event()
        start.record()
        for _ in range(burst):
            fn()
        end.record()
        end.synchronize()
        means.append(cuda.event_elapsed_time(start, end) / burst)
    return statistics.median(means)


class Torch:
    """Random device tensors, copies and cuBLAS through PyTorch."""
    name = "torch"

    def __init__(self):
        import torch
        self.torch = torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.version = torch.__version__
        self.gen = torch.Generator(device="cuda").manual_seed(0)

    def randn(self, shape, dtype):
        return self.torch.randn(shape, device="cuda", generator=self.gen,
                                dtype=getattr(self.torch, np.dtype(dtype).name))

    def empty_like(self, x):
        return self.torch.empty_like(x)

    def copy(self, dst, src):
        dst.copy_(src)

    def matmul(self, a, b):
        return self.torch.matmul(a, b)

    def to_host(self, x):
        return x.cpu().numpy()

    def sprinkled(self, x, fraction, value):
        places = self.torch.rand(x.shape, device="cuda", generator=self.gen) < fraction
        return x.masked_fill(places, value)


class CuPy(Torch):
    name = "cupy"

    def __init__(self):
        import cupy
        self.cp = cupy
        self.version = cupy.__version__
        self.rng = cupy.random.default_rng(0)

    def randn(self, shape, dtype):
        return self.rng.standard_normal(shape, dtype=dtype)

    def empty_like(self, x):
        return self.cp.empty_like(x)

    def copy(self, dst, src):
        dst[...] = src

    def matmul(self, a, b):
        return self.cp.matmul(a, b)   # plain SGEMM unless CUPY_TF32 is set

    def to_host(self, x):
        return self.cp.asnumpy(x)

    def sprinkled(self, x, fraction, value):
        places = self.rng.random(x.shape) < fraction
        return self.cp.where(places, value, x).astype(x.dtype)


def framework():
    try:
        return Torch()
    except ImportError:
        return CuPy()


def check_elementwise(fw, x, y, out):
    idx = np.random.default_rng(1).integers(0, ELEMENTS, 1 << 16)
    xs, ys, got = (fw.to_host(t)[idx] for t in (x, y, out))
    expected = reference.lmul(xs, ys)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), \
        "elementwise result differs from the reference"


def check_gemm(fw, a, b, c, rows=8, cols=64):
    """c: the host result of a @ b, checked on its first rows and columns."""
    a_h, b_h, c_h = fw.to_host(a)[:rows], fw.to_host(b)[:, :cols], c[:rows, :cols]
    S, magnitudes = reference.exact_products_sum(a_h, b_h)
    u = 2.0**-24 if a_h.dtype == np.float32 else 2.0**-53
    ok = np.abs(c_h - S) <= (a_h.shape[1] + 2) * u * magnitudes
    assert ok.all(), "GEMM result outside docs/contract.md section 4's bound"


def bench_elementwise(fw):
    x, y = fw.randn(ELEMENTS, np.float32), fw.randn(ELEMENTS, np.float32)
    out = fw.empty_like(x)
    lcuda.multiply(x, y, out=out)          # the framework's tensors directly
    check_elementwise(fw, x, y, out)
    # timed on numba views of the same memory: numba synchronizes on the stream
    # a foreign array names each time it takes one in, which would serialise
    # the burst of launches
    x_d, y_d, out_d = (cuda.as_cuda_array(t) for t in (x, y, out))
    t_lmul = time_ms(lambda: lcuda.multiply(x_d, y_d, out=out_d), burst=10, repeats=7)
    t_copy = time_ms(lambda: fw.copy(out, x), burst=10, repeats=7)
    lmul_gbs = 3 * 4 * ELEMENTS / t_lmul / 1e6
    copy_gbs = 2 * 4 * ELEMENTS / t_copy / 1e6
    return {"elements": ELEMENTS, "lmul_ms": t_lmul, "copy_ms": t_copy,
            "lmul_GBps": lmul_gbs, "copy_GBps": copy_gbs,
            "fraction_of_copy_bandwidth": lmul_gbs / copy_gbs, "target": 0.70}


def bench_gemm(fw, n, dtype, with_specials=False):
    a, b = fw.randn((n, n), dtype), fw.randn((n, n), dtype)
    check_gemm(fw, a, b, lcuda.matmul(a, b).copy_to_host())
    flops = 2.0 * n**3
    result = {"size": n, "dtype": np.dtype(dtype).name}
    a_d, b_d = cuda.as_cuda_array(a), cuda.as_cuda_array(b)
    result["lmul_ms"] = time_ms(lambda: lcuda.matmul(a_d, b_d), burst=3, repeats=5)
    result["blas_ms"] = time_ms(lambda: fw.matmul(a, b), burst=3, repeats=5)
    result["lmul_TFLOPs"] = flops / result["lmul_ms"] / 1e9
    result["blas_TFLOPs"] = flops / result["blas_ms"] / 1e9
    result["fraction_of_blas"] = result["blas_ms"] / result["lmul_ms"]
    if with_specials:
        # 1% zeros: every tile takes the sparse path; 1% of 2^70 (beyond the
        # tame exponents): every tile takes the general path
        for name, value in (("sparse_path_1pct_zeros", 0.0),
                            ("general_path_1pct_2e70", 2.0**70)):
            a_s = fw.sprinkled(a, 0.01, value)
            check_gemm(fw, a_s, b, lcuda.matmul(a_s, b).copy_to_host())
            a_s = cuda.as_cuda_array(a_s)
            result[f"lmul_ms_{name}"] = time_ms(lambda: lcuda.matmul(a_s, b_d),
                                                burst=1, repeats=3)
    return result


SWEEP_TILES = [(128, 128, 8, 8, 8, 0, 4), (128, 128, 8, 8, 8, 0, 2), (128, 128, 16, 8, 8, 0, 4),
               (128, 64, 8, 8, 4, 0, 4), (64, 64, 8, 4, 4, 0, 4)]


def sweep_gemm_tiles(fw, n=GEMM_SIZE):
    """float32 n^3 GEMM time of each tile shape and register cap."""
    from lmul_simd.cuda import _gemm
    c = reference.FLOAT32
    a, b = fw.randn((n, n), np.float32), fw.randn((n, n), np.float32)
    a_bits, b_bits = (cuda.as_cuda_array(t).view(np.uint32).reshape((1, n, n))
                      for t in (a, b))
    out = cuda.device_array((1, n, n), np.float32)
    rows = []
    for shape in SWEEP_TILES:
        tiles = _gemm.Tiles(*shape)
        ms = time_ms(lambda: _gemm.launch_gemm(c, c.P, a_bits, b_bits, out, tiles),
                     burst=3, repeats=3)
        check_gemm(fw, a, b, out.copy_to_host()[0])
        compiled = next(iter(_gemm.gemm_kernel(c, tiles).overloads.values()))
        rows.append({"tiles": tiles._asdict(), "ms": ms,
                     "TFLOPs": 2.0 * n**3 / ms / 1e9,
                     "registers": compiled.regs_per_thread,
                     "local_bytes": compiled.local_mem_per_thread})
        print(f"sweep {shape}: {ms:.2f} ms, {compiled.regs_per_thread} registers, "
              f"{compiled.local_mem_per_thread} local bytes", flush=True)
    return rows


def kernel_resources(out_dir):
    """Registers, local memory (spills) and shared memory of the compiled
    kernels; PTX and SASS of the float32 GEMM saved under out_dir if given."""
    from lmul_simd.cuda import _elementwise, _gemm
    report = {}
    for c in (reference.FLOAT32, reference.FLOAT64):
        for name, kernel in (("gemm", _gemm.gemm_kernel(c, _gemm.tiles_for(c))),
                             ("elementwise", _elementwise.elementwise_kernel(c))):
            for compiled in kernel.overloads.values():
                report[f"{name}_{c.dtype.name}"] = {
                    "registers": compiled.regs_per_thread,
                    "local_bytes": compiled.local_mem_per_thread,
                    "shared_bytes": compiled.shared_mem_per_block}
            if out_dir and c is reference.FLOAT32 and name == "gemm":
                save_assembly(kernel, f"{out_dir}/gemm_f32", report)
    return report


def save_assembly(kernel, stem, report):
    with open(f"{stem}.ptx", "w") as f:
        f.write("\n".join(kernel.inspect_asm().values()))
    try:
        with open(f"{stem}.sass", "w") as f:
            f.write("\n".join(kernel.inspect_sass().values()))
    except Exception as exc:  # nvdisasm missing
        report["sass_error"] = str(exc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file for the results")
    parser.add_argument("--sass", help="folder for the GEMM kernel's PTX and SASS")
    parser.add_argument("--sweep", action="store_true",
                        help="also time the float32 GEMM over tile shapes")
    args = parser.parse_args()
    reason = lcuda.unavailable_reason()
    if reason is not None or SIMULATOR:
        sys.exit(f"no GPU to benchmark: {reason or 'NUMBA_ENABLE_CUDASIM=1'}")
    fw = framework()
    import numba
    import numba_cuda
    numba_cuda_version = getattr(numba_cuda, "__version__", "?")
    device = cuda.get_current_device()
    results = {
        "gpu": device.name.decode() if isinstance(device.name, bytes) else device.name,
        "compute_capability": list(device.compute_capability),
        "multiprocessors": device.MULTIPROCESSOR_COUNT,
        "python": platform.python_version(), "numba": numba.__version__,
        "numba_cuda": numba_cuda_version, "baseline": f"{fw.name} {fw.version}",
        "elementwise_float32": bench_elementwise(fw),
        "gemm_float32": bench_gemm(fw, GEMM_SIZE, np.float32, with_specials=True),
        "gemm_float64": bench_gemm(fw, GEMM64_SIZE, np.float64),
    }
    results["gemm_float32"]["target"] = 0.25
    if args.sweep:
        results["gemm_float32_tile_sweep"] = sweep_gemm_tiles(fw)
    try:
        results["kernels"] = kernel_resources(args.sass)
    except Exception as exc:  # diagnostics only: keep the figures
        results["kernels"] = {"error": repr(exc)}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    e, g, d = (results[k] for k in ("elementwise_float32", "gemm_float32", "gemm_float64"))
    print(f"GPU {results['gpu']} ({fw.name} {fw.version}, numba-cuda {numba_cuda_version})")
    print(f"elementwise f32 2^28: {e['lmul_ms']:.3f} ms {e['lmul_GBps']:.0f} GB/s; copy "
          f"{e['copy_ms']:.3f} ms {e['copy_GBps']:.0f} GB/s -> "
          f"{e['fraction_of_copy_bandwidth']:.1%} of copy (target 70%)")
    for r in (g, d):
        print(f"GEMM {r['dtype']} {r['size']}^3: L-Mul {r['lmul_ms']:.2f} ms "
              f"{r['lmul_TFLOPs']:.2f} TFLOP/s; BLAS {r['blas_ms']:.2f} ms "
              f"{r['blas_TFLOPs']:.2f} TFLOP/s -> {r['fraction_of_blas']:.1%}")
    print(f"GEMM f32 with 1% zeros (sparse path): {g['lmul_ms_sparse_path_1pct_zeros']:.2f} ms;"
          f" with 1% 2^70 (general path): {g['lmul_ms_general_path_1pct_2e70']:.2f} ms")
    print(json.dumps(results["kernels"]))


if __name__ == "__main__":
    main()
