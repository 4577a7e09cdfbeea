"""Bit-level primitives that differ between a real GPU and numba's simulator.

On a GPU, numba widens unsigned sums to 64 bits and the cast back truncates
(LLVM narrows the pair to one 32-bit add); the simulator runs NumPy scalars,
which would warn on a wrapping add, so it adds Python integers instead. The
float views of a bit pattern are libdevice intrinsics on a GPU and NumPy
scalar views in the simulator.
"""
import numpy as np
from numba import config, cuda

SIMULATOR = bool(getattr(config, "ENABLE_CUDASIM", 0))


def _simulated(uint, flt):
    mask = (1 << (np.dtype(uint).itemsize * 8)) - 1

    def wrap_add(a, b):
        return uint((int(a) + int(b)) & mask)

    def as_float(bits):
        return uint(bits).view(flt)

    return wrap_add, as_float


def _compiled(uint, flt):
    from numba.cuda import libdevice

    if uint is np.uint32:
        @cuda.jit(device=True)
        def as_float(bits):
            return libdevice.int_as_float(np.int32(bits))
    else:
        @cuda.jit(device=True)
        def as_float(bits):
            return libdevice.longlong_as_double(np.int64(bits))

    @cuda.jit(device=True)
    def wrap_add(a, b):
        return uint(a + b)

    return wrap_add, as_float


def primitives(uint, flt):
    """(wrap_add, as_float) device functions for one container: the sum of
    two bit patterns modulo 2^width, and the float a bit pattern stands for."""
    return (_simulated if SIMULATOR else _compiled)(uint, flt)
