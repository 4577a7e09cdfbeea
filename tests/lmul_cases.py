"""Operand sets shared by the tests: the special-value matrix and random
bit patterns, as container bit patterns (uint32 / uint64)."""
import numpy as np

from lmul_simd.reference import FLOAT32, FLOAT64


def special_bits(c):
    """Magnitudes that exercise every rule of docs/contract.md section 3, both signs:
    zeros, subnormals, the normal range's ends, 1, infinities, NaNs, values
    whose rounding to k bits carries into the exponent or to infinity, and
    values whose products sit at the underflow and overflow thresholds."""
    P = c.P
    min_normal, inf, bias = 1 << P, c.inf, c.bias
    all_mantissa = (1 << P) - 1
    exponent_bias = bias >> P
    mags = {
        0, 1, all_mantissa,                        # zero, subnormals
        min_normal, min_normal + 1, min_normal | all_mantissa,
        inf - 1,                                   # largest normal: rounds to inf
        inf - (1 << (P - 1)),                      # 1.5 * 2^emax
        bias, bias + 1, bias | all_mantissa,       # 1, just above, just below 2
        bias | (1 << (P - 1)) | ((1 << (P - 4)) - 1),
        bias | (1 << (P - 3)) | (1 << (P - 4)),    # ties when rounding to k bits
        inf, inf + 1, inf | (1 << (P - 1)), inf | all_mantissa,  # inf, NaNs
    }
    # exponents near half the range, so that products cross the thresholds
    for e in (1, exponent_bias // 2, exponent_bias // 2 + 1,
              exponent_bias + exponent_bias // 2, exponent_bias + exponent_bias // 2 + 1,
              exponent_bias - 1, exponent_bias + 1, 2 * exponent_bias):
        for mantissa in (0, 1 << (P - 1), all_mantissa):
            mags.add((e << P) | mantissa)
    mags = np.array(sorted(mags), dtype=c.uint)
    return np.concatenate([mags, mags | np.asarray(c.sign_bit, c.uint)])


def random_bits(c, n, seed):
    """n uniformly random bit patterns over the whole container."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(c.uint).max, size=n, dtype=c.uint, endpoint=True)


CONTAINERS = {np.dtype(np.float32): FLOAT32, np.dtype(np.float64): FLOAT64}
