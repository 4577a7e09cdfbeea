"""L-Mul products on torch tensors, with the exact product's gradient.

Forward: the product is lmul_simd's (bit for bit the NumPy call on the same
values). Backward: straight-through, i.e. the gradient of the exact product
(torch's own matmul / SDPA on the saved inputs), as the approximate-multiplier
tools (AdaPT, TorchApprox, ApproxTrain) do: L-Mul is treated as a
perturbation of the exact product, whose derivative it does not have (it is
piecewise linear in each mantissa).
"""
import torch

import lmul_simd
from lmul_simd.attention import attention as _numpy_attention

from ._tensors import as_numpy, from_numpy


def _product(k):
    return lmul_simd.matmul if k is None else lmul_simd.matmul_k(k)


def _matmul_values(a, b, k):
    """The L-Mul product of a and b, no autograd."""
    if a.device != b.device:
        raise ValueError(f"a and b are on different devices ({a.device}, {b.device})")
    if a.device.type == "cuda":
        return _cuda_matmul(a, b, k)
    if a.device.type != "cpu":
        raise ValueError(f"lmul_simd.torch computes on CPU and CUDA tensors, not {a.device}")
    return from_numpy(_product(k)(as_numpy(a), as_numpy(b)))


def _cuda_matmul(a, b, k):
    """Through lmul_simd.cuda: float32/float64, batches flattened to one."""
    from lmul_simd import cuda as lcuda
    reason = lcuda.unavailable_reason()
    if reason is not None:
        raise lcuda.CudaUnavailableError(f"CUDA tensors need lmul_simd.cuda: {reason}")
    if a.dtype != b.dtype or a.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"on CUDA, a and b must both be float32 or both float64, "
                        f"got {a.dtype} and {b.dtype}")
    vec_a, vec_b = a.dim() == 1, b.dim() == 1
    a = a.unsqueeze(0) if vec_a else a
    b = b.unsqueeze(-1) if vec_b else b
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = a.expand(*batch, *a.shape[-2:]).reshape(-1, *a.shape[-2:]).contiguous()
    b3 = b.contiguous() if b.dim() == 2 else \
        b.expand(*batch, *b.shape[-2:]).reshape(-1, *b.shape[-2:]).contiguous()
    out = torch.as_tensor(lcuda.matmul(a3, b3, k=k), device=a.device)
    out = out.reshape(*batch, a.shape[-2], b.shape[-1])
    out = out.squeeze(-1) if vec_b else out
    return out.squeeze(-2) if vec_a else out


def _exact_gradients(exact, inputs, grad_output, needed):
    """Gradients of `exact(*inputs)` (torch's own op) for the needed inputs."""
    with torch.enable_grad():
        leaves = [x.detach().requires_grad_(bool(n)) for x, n in zip(inputs, needed)]
        wanted = [x for x, n in zip(leaves, needed) if n]
        grads = iter(torch.autograd.grad(exact(*leaves), wanted, grad_output))
    return tuple(next(grads) if n else None for n in needed)


class _Matmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, k):
        ctx.save_for_backward(a, b)
        return _matmul_values(a, b, k)

    @staticmethod
    def backward(ctx, grad_output):
        return (*_exact_gradients(torch.matmul, ctx.saved_tensors, grad_output,
                                  ctx.needs_input_grad[:2]), None)


def _needs_autograd(*tensors):
    return torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors)


def matmul(a, b, k=None):
    """L-Mul matmul of two tensors, with torch.matmul's shape rules (batch
    dimensions broadcast). k: the mantissa bits (None: the format's width).

    CPU tensors are read in place (NumPy views of any strides, bfloat16 and
    float8 included); the result is a new tensor on the input's device in
    the format lmul_simd.matmul gives (float8 inputs give float32). CUDA
    tensors go through lmul_simd.cuda (float32/float64). The gradient is the
    exact product's (see the module's docstring).
    """
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        raise TypeError("lmul_simd.torch.matmul takes two torch tensors")
    if _needs_autograd(a, b):
        return _Matmul.apply(a, b, k)
    return _matmul_values(a, b, k)


def linear(x, weight, bias=None, k=None):
    """x @ weight.T + bias with L-Mul products (torch.nn.functional.linear's
    shapes); the bias is an ordinary addition."""
    rows = x.reshape(-1, x.shape[-1])       # one GEMM, not one per batch entry
    out = matmul(rows, weight.mT, k).reshape(*x.shape[:-1], weight.shape[0])
    return out if bias is None else out + bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, k=None):
    """torch.nn.functional.conv2d with L-Mul products: im2col (unfold) and one
    L-Mul GEMM per group. padding: int or pair (zeros; for other modes or
    "same", pad first as lmul_simd.torch.Conv2d does)."""
    n, channels = x.shape[:2]
    out_channels, group_channels, kh, kw = weight.shape
    if channels != group_channels * groups:
        raise ValueError(f"x has {channels} channels, the weight expects "
                         f"{group_channels * groups}")
    cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding,
                                      stride=stride)
    positions = cols.shape[-1]
    cols = cols.reshape(n, groups, group_channels * kh * kw, positions)
    w = weight.reshape(groups, out_channels // groups, group_channels * kh * kw)
    out = matmul(w, cols, k).reshape(n, out_channels, *_output_size(x, weight, stride, padding, dilation))
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def _output_size(x, weight, stride, padding, dilation):
    pair = torch.nn.modules.utils._pair
    return tuple((size + 2 * p - d * (kernel - 1) - 1) // s + 1
                 for size, kernel, s, p, d in zip(x.shape[-2:], weight.shape[-2:], pair(stride),
                                                  pair(padding), pair(dilation)))


def _sdpa_values(query, key, value, attn_mask, is_causal, scale, k):
    for t in (query, key, value):
        if t.device.type != "cpu":
            raise ValueError(f"L-Mul attention runs on CPU tensors, got one on {t.device}")
    mask = attn_mask
    if mask is not None:
        mask = mask.detach().numpy() if mask.dtype == torch.bool else as_numpy(mask)
    out = _numpy_attention(as_numpy(query), as_numpy(key), as_numpy(value), mask=mask,
                           is_causal=is_causal, scale=scale, mantissa_bits=k)
    return from_numpy(out)


def _exact_sdpa(attn_mask, is_causal, scale, gqa):
    def exact(query, key, value):
        return torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
            enable_gqa=gqa)
    return exact


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, value, attn_mask, is_causal, scale, k):
        ctx.save_for_backward(query, key, value)
        ctx.exact = _exact_sdpa(attn_mask, is_causal, scale, query.shape[-3:-2] != key.shape[-3:-2])
        return _sdpa_values(query, key, value, attn_mask, is_causal, scale, k)

    @staticmethod
    def backward(ctx, grad_output):
        grads = _exact_gradients(ctx.exact, ctx.saved_tensors, grad_output,
                                 ctx.needs_input_grad[:3])
        return (*grads, None, None, None, None)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, k=None):
    """torch.nn.functional.scaled_dot_product_attention with L-Mul for Q K^T
    and P V (lmul_simd.attention on the tensors' memory). Fewer key/value
    heads than query heads are grouped whatever `enable_gqa` says. No dropout
    (inference): dropout_p must be 0. The gradient is exact SDPA's."""
    if dropout_p:
        raise NotImplementedError("L-Mul attention has no dropout: use the model in "
                                  "eval() mode (or attention dropout 0)")
    if _needs_autograd(query, key, value):
        return _Attention.apply(query, key, value, attn_mask, is_causal, scale, k)
    return _sdpa_values(query, key, value, attn_mask, is_causal, scale, k)
