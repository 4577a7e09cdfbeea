"""Drop-in nn.Linear and nn.Conv2d whose products are L-Mul products."""
import torch
from torch import nn

from ._functions import conv2d, linear


def _adopt(cls, module, k):
    """An instance of cls that shares module's parameters, buffers and state
    (no copy, no re-initialisation) and remembers module for unpatch()."""
    new = cls.__new__(cls)
    new.__dict__.update(module.__dict__)
    for store in ("_parameters", "_buffers", "_modules"):
        new.__dict__[store] = dict(module.__dict__[store])
    new.k = k
    new.__dict__["_lmul_simd_original"] = module
    return new


class Linear(nn.Linear):
    """nn.Linear with L-Mul products (k mantissa bits; None: the format's
    width). Same parameters and state_dict as nn.Linear; the gradient is the
    exact product's (straight-through)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, k=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.k = k

    @classmethod
    def from_linear(cls, module, k=None):
        """An L-Mul Linear over module's own weight and bias (shared)."""
        if not isinstance(module, nn.Linear):
            raise TypeError(f"expected an nn.Linear, got {type(module).__name__}")
        return _adopt(cls, module, k)

    def forward(self, x):
        return linear(x, self.weight, self.bias, self.k)

    def extra_repr(self):
        return f"{super().extra_repr()}, k={self.k}"


class Conv2d(nn.Conv2d):
    """nn.Conv2d with L-Mul products (im2col onto the L-Mul GEMM); every
    padding mode and padding of nn.Conv2d. Gradient: the exact product's."""

    def __init__(self, *args, k=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.k = k

    @classmethod
    def from_conv2d(cls, module, k=None):
        """An L-Mul Conv2d over module's own weight and bias (shared)."""
        if not isinstance(module, nn.Conv2d):
            raise TypeError(f"expected an nn.Conv2d, got {type(module).__name__}")
        return _adopt(cls, module, k)

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros" or isinstance(padding, str):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = torch.nn.functional.pad(x, self._reversed_padding_repeated_twice, mode=mode)
            padding = 0
        return conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups, self.k)

    def extra_repr(self):
        return f"{super().extra_repr()}, k={self.k}"


def original(module):
    """The module an L-Mul layer was made from by from_linear/from_conv2d, or None."""
    return module.__dict__.get("_lmul_simd_original")
