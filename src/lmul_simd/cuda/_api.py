"""Array handling of the CUDA path: host arrays are copied in and out, device
arrays (``__cuda_array_interface__``) are reinterpreted as container bit
patterns in place and the result stays on the device."""
import numpy as np
from numba import cuda

from .. import reference
from ._bits import SIMULATOR
from ._elementwise import launch_elementwise
from ._gemm import launch_gemm

DEVICE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_device_array(x):
    if SIMULATOR:
        return cuda.devicearray.is_cuda_ndarray(x)
    return cuda.is_cuda_array(x)


def as_device_array(x):
    """A numba device array over the same memory (no copy). Foreign arrays
    (CuPy, PyTorch) go through numba, which synchronizes on their stream."""
    if SIMULATOR or cuda.devicearray.is_cuda_ndarray(x):
        return x
    return cuda.as_cuda_array(x)


def resolve_k(k, fmt):
    """k as docs/contract.md section 3 says: the format's mantissa width by default,
    else 1..P of its container (TypeError / ValueError otherwise)."""
    c = reference.container_for(fmt)
    return reference.default_k(fmt) if k is None else reference.check_k(k, c)


def host_bits(x, c):
    """x converted (exactly) to container c, as contiguous uint patterns."""
    return np.ascontiguousarray(x, dtype=c.dtype).view(c.uint)


def device_operands(*arrays):
    """Device arrays of one float32/float64 dtype, C-contiguous: (arrays, dtype)."""
    if not all(is_device_array(x) for x in arrays):
        raise TypeError("mix of host and device arrays: pass all operands on "
                        "the host or all on the device")
    arrays = [as_device_array(x) for x in arrays]
    dtypes = {np.dtype(x.dtype) for x in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)) not in DEVICE_DTYPES:
        raise TypeError("device operands must all be float32 or all float64, "
                        f"got {', '.join(sorted(map(str, dtypes)))}")
    for x in arrays:
        if not x.is_c_contiguous():
            raise ValueError("device operands must be C-contiguous")
    return arrays, dtypes.pop()


def from_container(result, fmt):
    """A host container result in the format docs/contract.md section 3, the result's format gives."""
    with np.errstate(over="ignore"):  # float16 results beyond range become inf
        return result.astype(reference.result_dtype(fmt), copy=False)


def deliver(result, out):
    if out is None:
        return result
    if not isinstance(out, np.ndarray):
        raise TypeError("out must be a NumPy array for host operands")
    if out.shape != result.shape or out.dtype != result.dtype:
        raise ValueError(f"out must be {result.dtype} of shape {result.shape}, "
                         f"got {out.dtype} of shape {out.shape}")
    out[...] = result
    return out


# --- elementwise -------------------------------------------------------------

def multiply(x, y, k=None, out=None):
    if is_device_array(x) or is_device_array(y):
        return multiply_on_device(x, y, k, out)
    return multiply_on_host(x, y, k, out)


def multiply_on_host(x, y, k, out):
    x, y = np.asarray(x), np.asarray(y)
    fmt = np.result_type(x, y)
    k = resolve_k(k, fmt)
    c = reference.container_for(fmt)
    xb, yb = np.broadcast_arrays(host_bits(x, c), host_bits(y, c))
    shape = xb.shape
    d_out = cuda.device_array(xb.size, c.uint)
    launch_elementwise(c, k, cuda.to_device(np.ravel(xb)), cuda.to_device(np.ravel(yb)),
                       d_out)
    result = d_out.copy_to_host().view(c.dtype).reshape(shape)
    return deliver(from_container(result, fmt), out)


def multiply_on_device(x, y, k, out):
    (x, y), dtype = device_operands(x, y)
    if x.shape != y.shape:
        raise ValueError(f"device operands must have one shape, got {x.shape} "
                         f"and {y.shape}")
    k = resolve_k(k, dtype)
    c = reference.container_for(dtype)
    if out is None:
        out = result = cuda.device_array(x.shape, dtype)
    else:
        result = out            # the caller's own object (a tensor, say) back
        (out,), out_dtype = device_operands(out)
        if out.shape != x.shape or out_dtype != dtype:
            raise ValueError(f"out must be {dtype} of shape {x.shape}, got "
                             f"{out_dtype} of shape {out.shape}")
    flat_bits = [a.view(c.uint).ravel() for a in (x, y, out)]
    launch_elementwise(c, k, *flat_bits)
    return result


# --- GEMM ----------------------------------------------------------------------

def gemm_shapes(a_shape, b_shape):
    """(batch, M, K, N) for a (.., M, K) @ b (.., K, N), batches 1 or equal."""
    if len(a_shape) not in (2, 3) or len(b_shape) not in (2, 3):
        raise ValueError(f"matmul takes 2-D or 3-D operands, got {len(a_shape)}-D "
                         f"and {len(b_shape)}-D")
    (ba, M, K), (bb, Kb, N) = (((1,) + s)[-3:] for s in (a_shape, b_shape))
    if K != Kb:
        raise ValueError(f"inner dimensions differ: {a_shape} @ {b_shape}")
    if ba != bb and 1 not in (ba, bb):
        raise ValueError(f"batch sizes differ: {a_shape} @ {b_shape}")
    return max(ba, bb), M, K, N


def result_shape(a_shape, b_shape, batch, M, N):
    batched = len(a_shape) == 3 or len(b_shape) == 3
    return (batch, M, N) if batched else (M, N)


def matmul(a, b, k=None):
    if is_device_array(a) or is_device_array(b):
        return matmul_on_device(a, b, k)
    return matmul_on_host(a, b, k)


def as_3d(x):
    return x.reshape((1,) * (3 - len(x.shape)) + tuple(x.shape))


def matmul_on_host(a, b, k):
    a, b = np.asarray(a), np.asarray(b)
    fmt = np.result_type(a, b)
    k = resolve_k(k, fmt)
    c = reference.container_for(fmt)
    batch, M, K, N = gemm_shapes(a.shape, b.shape)
    d_out = cuda.device_array((batch, M, N), c.dtype)
    launch_gemm(c, k, cuda.to_device(as_3d(host_bits(a, c))),
                cuda.to_device(as_3d(host_bits(b, c))), d_out)
    result = d_out.copy_to_host().reshape(result_shape(a.shape, b.shape, batch, M, N))
    return from_container(result, fmt)


def matmul_on_device(a, b, k):
    (a, b), dtype = device_operands(a, b)
    k = resolve_k(k, dtype)
    c = reference.container_for(dtype)
    batch, M, K, N = gemm_shapes(a.shape, b.shape)
    out = cuda.device_array((batch, M, N), dtype)
    launch_gemm(c, k, as_3d(a.view(c.uint)), as_3d(b.view(c.uint)), out)
    return out.reshape(result_shape(a.shape, b.shape, batch, M, N))
