"""Elementwise L-Mul on vectors that mix zeros (and subnormals, DAZ) with
normal values: the SIMD fast path blends those lanes in, and must give the
reference's bits on every ISA level, every format, with and without rounding
to k bits, whatever else shares the vector (infinity or NaN against a zero,
products that under- or overflow)."""
import ml_dtypes
import numpy as np
import pytest

import lmul_simd
from lmul_simd import reference

FORMATS = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16,
           ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
N = 4099     # every lane position, and a tail


def fmt_id(dtype):
    return np.dtype(dtype).name


def operands(dtype, case, seed=0):
    rng = np.random.default_rng(seed)
    info = ml_dtypes.finfo(dtype)
    x = rng.standard_normal(N).astype(dtype)
    y = rng.standard_normal(N).astype(dtype)
    x[rng.random(N) < 0.1] = 0
    y[rng.random(N) < 0.05] = -0.0
    if case == "subnormal":
        x[rng.random(N) < 0.1] = info.smallest_subnormal * 3
        y[rng.random(N) < 0.05] = -info.smallest_subnormal
    elif case == "specials":        # zero against infinity and NaN: NaN
        x[::37] = np.inf
        y[::41] = np.nan
        y[1::37] = 0
    elif case == "range":           # products beyond the range beside zeros
        x[::5] = info.max
        y[::7] = info.max
        y[1::5] = info.tiny
    return x, y


def bits(a):
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


@pytest.mark.parametrize("case", ["zeros", "subnormal", "specials", "range"])
@pytest.mark.parametrize("dtype", FORMATS, ids=fmt_id)
def test_zero_lanes_match_reference(dtype, case):
    x, y = operands(dtype, case)
    own = reference.default_k(dtype)
    for k in sorted({own, 3}):
        with np.errstate(all="ignore"):
            want = reference.lmul(x, y, k)
        for isa in lmul_simd.available_isas():
            with lmul_simd.use_isa(isa):
                got = lmul_simd.multiply_k(k)(x, y)
            assert got.dtype == want.dtype
            diff = bits(got) != bits(want)
            assert not diff.any(), (isa, k, np.flatnonzero(diff)[:5])
