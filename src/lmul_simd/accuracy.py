"""How wrong L-Mul is, next to float8, bfloat16 and float16 multiplication.

Methodology (the same for every method, so the figures compare like with like):

* Operands are float32 samples of a distribution (:data:`DISTRIBUTIONS`:
  standard normal, uniform on [-1, 1), Student t with 2 degrees of freedom:
  tails heavy enough that some products leave e4m3fn's range, about 5 in
  100000, so the range treatment below shows; with 3 degrees of freedom not
  one of 2^21 products did).
  Every method starts from the SAME float32 operands, and its error is
  measured against the exact float64 product (or float64 dot product / GEMM)
  of those ORIGINAL float32 operands. Each method's own operand rounding is
  therefore part of its error:

  - L-Mul with k mantissa bits (``lmul_simd.multiply_k(k)``) rounds each
    operand to k mantissa bits (round to nearest, ties to even) inside the
    float32 container, whose range holds every sample: no clipping.
  - A narrow format (float8 e4m3fn / e5m2, bfloat16, float16) quantizes each
    operand to the format, multiplies in float32 (exact: the narrow
    mantissas are short) and rounds the product to the format once.

  So "L-Mul k = 3" and "e4m3fn" both see operands with 3 mantissa bits; the
  ``bits`` field of every result says how many mantissa bits its operands kept.

* Values beyond a format's range: operands are clipped to the format's
  finite range before quantizing (a saturating cast, as float8 training
  recipes do); the clipping error counts. A PRODUCT beyond the range is
  what the format gives it: NaN for e4m3fn (ml_dtypes has no infinity
  there), infinity for the others. Non-finite results are excluded from the
  mean and max and counted in ``nonfinite`` (a fraction of all results), which
  the report shows as its own column. Underflow is kept: a product rounded
  to zero has relative error 1.

* Dot products and GEMM: the float8/bfloat16-emulated versions quantize the
  operands and accumulate the exact products in float32 (no rounding of
  products to the format); L-Mul accumulates its products in float32 (docs/contract.md
  section 4). Their error is |C - C64| / (|A| @ |B|) elementwise, the error
  relative to the size of the terms summed (a plain relative error is
  unbounded where the exact sum cancels to near zero).

* :func:`exhaustive_mantissa_error` is the exact expected error over uniform
  mantissas: every pair of k-bit mantissas, L-Mul's bit-level product against
  the exact product of the same k-bit operands (no operand rounding).

Results are frozen dataclasses (:class:`ErrorStats`, :class:`MantissaError`);
``dataclasses.asdict`` turns them into plain dicts.
"""
from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np

import lmul_simd
from .reference import l_of_k

__all__ = ["DISTRIBUTIONS", "FORMATS", "LMUL_KS", "OWN_K", "STUDENT_T_DF", "CLAIMS",
           "EXHAUSTIVE_MAX_K", "ErrorStats", "MantissaError", "Method",
           "sample_operands", "quantize", "format_multiply", "format_vecdot",
           "format_matmul", "lmul_vecdot", "lmul_matmul", "emulated_lmul_matmul",
           "gemm_implementation", "lmul_method", "format_method", "all_methods",
           "error_stats", "elementwise_study", "dot_study", "gemm_study",
           "mean_error_ratio", "claim_ratios", "claim_holds", "lmul_mantissa_product",
           "exhaustive_mantissa_error", "sampled_mantissa_error"]

STUDENT_T_DF = 2
DISTRIBUTIONS = ("normal", "uniform", "student_t")
OWN_K = 23                                  # float32's own mantissa width
LMUL_KS = (1, 2, 3, 4, 5, 6, 7, 8, OWN_K)
FORMATS = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
           "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
EXHAUSTIVE_MAX_K = 10                       # 4^10 pairs, about 1M
_EMULATION_BLOCK = 1 << 22                  # products per block of the NumPy GEMM


def sample_operands(distribution, shape, rng):
    """float32 samples of `distribution` (one of :data:`DISTRIBUTIONS`)."""
    draw = {"normal": lambda: rng.standard_normal(shape),
            "uniform": lambda: rng.uniform(-1.0, 1.0, shape),
            "student_t": lambda: rng.standard_t(STUDENT_T_DF, shape)}
    if distribution not in draw:
        raise ValueError(f"unknown distribution {distribution!r}: choose one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    return draw[distribution]().astype(np.float32)


# ---- the operations compared -------------------------------------------------

def _format_dtype(fmt):
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def quantize(x, fmt):
    """`x` clipped to the finite range of format `fmt` (a :data:`FORMATS` key),
    then rounded to it (nearest, ties to even). Returns a new array."""
    dtype = _format_dtype(fmt)
    limit = float(ml_dtypes.finfo(dtype).max)
    return np.clip(np.asarray(x, np.float32), -limit, limit).astype(dtype)


def _quantized_float32(x, fmt):
    return quantize(x, fmt).astype(np.float32)


def format_multiply(x, y, fmt):
    """The product in format `fmt`: operands quantized, multiplied in float32
    (exactly), the product rounded to `fmt` (NaN/inf where it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return (_quantized_float32(x, fmt) * _quantized_float32(y, fmt)).astype(
            _format_dtype(fmt))


def format_vecdot(a, b, fmt):
    """Dot products over the last axis of operands quantized to `fmt`, float32 sums."""
    return np.vecdot(_quantized_float32(a, fmt), _quantized_float32(b, fmt))


def format_matmul(a, b, fmt):
    """GEMM of operands quantized to `fmt`, float32 matmul (float8-emulated GEMM)."""
    return np.matmul(_quantized_float32(a, fmt), _quantized_float32(b, fmt))


def _accumulator(*arrays):
    return np.float64 if np.result_type(*arrays) == np.float64 else np.float32


def lmul_vecdot(a, b, k):
    """L-Mul dot products over the last axis, accumulated in the container:
    ``lmul_simd.vecdot_k(k)`` when the package has it, else elementwise
    ``multiply_k(k)`` summed by NumPy."""
    if hasattr(lmul_simd, "vecdot_k"):
        return lmul_simd.vecdot_k(k)(a, b)
    return lmul_simd.multiply_k(k)(a, b).sum(axis=-1, dtype=_accumulator(a, b))


def gemm_implementation():
    """Which L-Mul GEMM :func:`lmul_matmul` runs, in words."""
    if hasattr(lmul_simd, "matmul_k"):
        return f"lmul_simd.matmul ({lmul_simd.backend} backend)"
    return "numpy-emulated L-Mul GEMM"


def lmul_matmul(a, b, k):
    """L-Mul GEMM of 2-D `a` and `b`: ``lmul_simd.matmul_k(k)`` when the
    package has it, else :func:`emulated_lmul_matmul`."""
    if hasattr(lmul_simd, "matmul_k"):
        return lmul_simd.matmul_k(k)(a, b)
    return emulated_lmul_matmul(a, b, k)


def emulated_lmul_matmul(a, b, k):
    """numpy-emulated L-Mul GEMM: elementwise ``multiply_k(k)`` over broadcast
    (rows, K, N) blocks, summed over K in the container. Slow; small sizes."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"need 2-D operands with matching inner sizes, got "
                         f"{a.shape} and {b.shape}")
    accumulator = _accumulator(a, b)
    multiply = lmul_simd.multiply_k(k)
    out = np.empty((a.shape[0], b.shape[1]), accumulator)
    rows = max(1, _EMULATION_BLOCK // max(1, b.size))
    for start in range(0, a.shape[0], rows):
        block = multiply(a[start:start + rows, :, None], b[None, :, :])
        out[start:start + rows] = block.sum(axis=1, dtype=accumulator)
    return out


# ---- methods: one name, three operations --------------------------------------

@dataclass(frozen=True)
class Method:
    """A way to multiply: its elementwise product, dot product and GEMM."""
    name: str                   # "lmul-k4", "e4m3fn", ...
    family: str                 # "lmul" or "float"
    bits: int                   # mantissa bits its operands keep
    multiply: Callable
    vecdot: Callable
    matmul: Callable


def lmul_method(k):
    return Method(f"lmul-k{k}", "lmul", k, lmul_simd.multiply_k(k),
                  lambda a, b: lmul_vecdot(a, b, k), lambda a, b: lmul_matmul(a, b, k))


def format_method(fmt):
    bits = ml_dtypes.finfo(_format_dtype(fmt)).nmant
    return Method(fmt, "float", bits, lambda x, y: format_multiply(x, y, fmt),
                  lambda a, b: format_vecdot(a, b, fmt),
                  lambda a, b: format_matmul(a, b, fmt))


def all_methods(ks=LMUL_KS, formats=tuple(FORMATS)):
    return [lmul_method(k) for k in ks] + [format_method(f) for f in formats]


# ---- sampled errors -----------------------------------------------------------

@dataclass(frozen=True)
class ErrorStats:
    """Relative error of one method on one distribution and operation."""
    method: str
    family: str
    bits: int
    distribution: str
    operation: str              # "multiply", "dot" or "gemm"
    mean: float                 # over the finite results
    max: float
    nonfinite: float            # fraction of results that are NaN or infinite
    count: int                  # results measured


def error_stats(approx, exact, scale):
    """(mean, max, nonfinite fraction) of |approx - exact| / scale, over the
    finite entries of `approx` (nan, nan when none is finite)."""
    approx = np.asarray(approx, np.float64)
    finite = np.isfinite(approx)
    errors = np.abs(approx[finite] - exact[finite]) / scale[finite]
    nonfinite = float(1.0 - finite.mean()) if approx.size else 0.0
    if errors.size == 0:
        return float("nan"), float("nan"), nonfinite
    return float(errors.mean()), float(errors.max()), nonfinite


def _study(operation, make_operands, exact_and_scale, apply, methods, distributions,
           seed, progress):
    results = []
    for distribution in distributions:
        rng = np.random.default_rng(seed)
        x, y = make_operands(distribution, rng)
        exact, scale = exact_and_scale(x.astype(np.float64), y.astype(np.float64))
        for method in methods:
            mean, worst, nonfinite = error_stats(apply(method, x, y), exact, scale)
            results.append(ErrorStats(method.name, method.family, method.bits,
                                      distribution, operation, mean, worst, nonfinite,
                                      int(exact.size)))
            if progress:
                progress(f"{operation} {distribution} {method.name}")
    return results


def elementwise_study(n=1 << 20, methods=None, distributions=DISTRIBUTIONS, seed=0,
                      progress=None):
    """Mean and max relative error of each method's product of n operand pairs,
    against the exact float64 product of the original float32 operands.
    `progress`, if given, is called with a label after each measurement."""
    return _study("multiply",
                  lambda dist, rng: sample_operands(dist, (2, n), rng),
                  lambda x, y: (x * y, np.abs(x * y)),
                  lambda method, x, y: method.multiply(x, y),
                  methods or all_methods(), distributions, seed, progress)


def dot_study(pairs=4096, length=256, methods=None, distributions=DISTRIBUTIONS,
              seed=0, progress=None):
    """Error of `pairs` dot products of `length` terms, scaled by sum |a_i b_i|."""
    return _study("dot",
                  lambda dist, rng: sample_operands(dist, (2, pairs, length), rng),
                  lambda a, b: (np.vecdot(a, b), np.vecdot(np.abs(a), np.abs(b))),
                  lambda method, a, b: method.vecdot(a, b),
                  methods or all_methods(), distributions, seed, progress)


def gemm_study(size=64, methods=None, distributions=DISTRIBUTIONS, seed=0,
               progress=None):
    """Error of a size x size x size GEMM, scaled by (|A| @ |B|) elementwise."""
    return _study("gemm",
                  lambda dist, rng: sample_operands(dist, (2, size, size), rng),
                  lambda a, b: (a @ b, np.abs(a) @ np.abs(b)),
                  lambda method, a, b: method.matmul(a, b),
                  methods or all_methods(), distributions, seed, progress)


# The paper's two claims, as ratios of mean relative errors (L-Mul / float8):
# "L-Mul with k = 4 is within 25% of e4m3's error" reads |ratio - 1| <= 0.25
# (comparable precision, either way); "k = 3 beats e5m2" reads ratio < 1.
CLAIMS = {"lmul-k4 vs e4m3fn": ("lmul-k4", "e4m3fn"),
          "lmul-k3 vs e5m2": ("lmul-k3", "e5m2")}
_CLAIM_HOLDS = {"lmul-k4 vs e4m3fn": lambda ratio: abs(ratio - 1.0) <= 0.25,
                "lmul-k3 vs e5m2": lambda ratio: ratio < 1.0}


def claim_holds(claim, ratio):
    """Whether a ratio from :func:`claim_ratios` bears out `claim`."""
    return _CLAIM_HOLDS[claim](ratio)


def mean_error_ratio(stats, method, baseline, distribution):
    """Mean error of `method` over that of `baseline` among `stats`
    (ErrorStats of one operation) on `distribution`."""
    means = {s.method: s.mean for s in stats if s.distribution == distribution}
    missing = {method, baseline} - means.keys()
    if missing:
        raise KeyError(f"no {distribution} figures for {', '.join(sorted(missing))}")
    return means[method] / means[baseline]


def claim_ratios(stats):
    """{claim: {distribution: ratio}} for :data:`CLAIMS` over `stats`."""
    distributions = sorted({s.distribution for s in stats}, key=DISTRIBUTIONS.index)
    return {claim: {d: mean_error_ratio(stats, method, baseline, d)
                    for d in distributions}
            for claim, (method, baseline) in CLAIMS.items()}


# ---- expected error over uniform mantissas --------------------------------------

@dataclass(frozen=True)
class MantissaError:
    """L-Mul's relative error over uniform k-bit mantissas (operands in [1, 2))."""
    k: int
    l: int                      # the offset exponent l(k)
    mean: float
    max: float
    pairs: int                  # mantissa pairs measured
    exhaustive: bool            # every pair (exact) or a random sample


def lmul_mantissa_product(xm, ym, k):
    """L-Mul of 1 + xm and 1 + ym (mantissas in [0, 1)) as the bit-level
    definition computes it: the mantissa fields add, with the offset, to
    t = xm + ym + 2^-l(k); each whole unit of t carries into the exponent, so
    the value is 2^floor(t) * (1 + t - floor(t)) (for t < 1 the paper's
    1 + xm + ym + 2^-l(k))."""
    t = np.asarray(xm, np.float64) + np.asarray(ym, np.float64) + 2.0 ** -l_of_k(k)
    carry = np.floor(t)
    return np.exp2(carry) * (1.0 + t - carry)


def _mantissa_error(k, xm, ym, exhaustive):
    exact = (1.0 + xm) * (1.0 + ym)
    errors = np.abs(lmul_mantissa_product(xm, ym, k) - exact) / exact
    return MantissaError(k, l_of_k(k), float(errors.mean()), float(errors.max()),
                         int(errors.size), exhaustive)


def _check_mantissa_k(k, most):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"mantissa bits k must be an integer, got {k!r}")
    if not 1 <= k <= most:
        raise ValueError(f"mantissa bits k={k} is out of range 1..{most}")


def exhaustive_mantissa_error(k):
    """Exact mean and max relative error of L-Mul over all (2^k)^2 pairs of
    k-bit mantissas, against the exact product of the same operands."""
    _check_mantissa_k(k, EXHAUSTIVE_MAX_K)
    mantissas = np.arange(1 << k) / (1 << k)
    xm, ym = np.meshgrid(mantissas, mantissas, indexing="ij")
    return _mantissa_error(k, xm.ravel(), ym.ravel(), exhaustive=True)


def sampled_mantissa_error(k, n=1 << 20, seed=0):
    """The same over n random pairs of k-bit mantissas (any k up to 52)."""
    _check_mantissa_k(k, 52)
    rng = np.random.default_rng(seed)
    xm, ym = rng.integers(0, 1 << k, (2, n), dtype=np.uint64) / float(1 << k)
    return _mantissa_error(k, xm, ym, exhaustive=False)
