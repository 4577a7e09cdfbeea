"""L-Mul in PyTorch (optional: ``pip install lmul_simd[torch]``).

    >>> import torch, lmul_simd.torch as lt
    >>> lt.matmul(torch.ones(2, 3), torch.ones(3, 4), k=3).shape
    torch.Size([2, 4])
    >>> model = lt.patch(model, scope="attention", k=4)        # doctest: +SKIP
    >>> lt.unpatch(model)                                       # doctest: +SKIP

Functions (`matmul`, `linear`, `conv2d`, `scaled_dot_product_attention`) and
layers (`Linear`, `Conv2d`) compute their products with lmul_simd on the
tensors' own memory (CPU; CUDA tensors through lmul_simd.cuda for matmul).
Their backward is the exact product's gradient (straight-through): training
sees L-Mul in the forward pass only. `patch` puts them into a model.
"""
# Inside this package `import torch` is the real torch (absolute imports; no
# module here is called torch).
from ._functions import conv2d, linear, matmul, scaled_dot_product_attention
from ._modules import Conv2d, Linear
from ._patch import SCOPES, attention_implementation, patch, patched_sdpa, unpatch

__all__ = ["matmul", "linear", "conv2d", "scaled_dot_product_attention", "Linear",
           "Conv2d", "patch", "unpatch", "patched_sdpa", "attention_implementation",
           "SCOPES"]
