"""Drop-in nn.Linear and nn.Conv2d whose products are L-Mul products."""
import torch
from torch import nn

from ._functions import conv2d, linear


class _LMulLayer:
    """What the L-Mul layers share: adopting an exact layer, k in the repr."""
    _exact = None            # the torch layer class this one replaces

    @classmethod
    def _adopt(cls, module, k):
        """An instance that shares module's parameters, buffers and state (no
        copy, no re-initialisation) and remembers module for unpatch()."""
        if not isinstance(module, cls._exact):
            raise TypeError(f"expected a torch.nn.{cls._exact.__name__}, got {type(module).__name__}")
        new = cls.__new__(cls)
        new.__dict__.update(module.__dict__)
        for store in ("_parameters", "_buffers", "_modules"):
            new.__dict__[store] = dict(module.__dict__[store])
        new.k = k
        new.__dict__["_lmul_simd_original"] = module
        return new

    def extra_repr(self):
        return f"{super().extra_repr()}, k={self.k}"


class Linear(_LMulLayer, nn.Linear):
    """nn.Linear with L-Mul products (k mantissa bits; None: the format's
    width). Same parameters and state_dict as nn.Linear; the gradient is the
    exact product's (straight-through)."""
    _exact = nn.Linear

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, k=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.k = k

    @classmethod
    def from_linear(cls, module, k=None):
        """An L-Mul Linear over module's own weight and bias (shared)."""
        return cls._adopt(module, k)

    def forward(self, x):
        return linear(x, self.weight, self.bias, self.k)


class Conv2d(_LMulLayer, nn.Conv2d):
    """nn.Conv2d with L-Mul products (im2col onto the L-Mul GEMM); every
    padding mode and padding of nn.Conv2d. Gradient: the exact product's."""
    _exact = nn.Conv2d

    def __init__(self, *args, k=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.k = k

    @classmethod
    def from_conv2d(cls, module, k=None):
        """An L-Mul Conv2d over module's own weight and bias (shared)."""
        return cls._adopt(module, k)

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros" or isinstance(padding, str):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = torch.nn.functional.pad(x, self._reversed_padding_repeated_twice, mode=mode)
            padding = 0
        return conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups, self.k)


def original(module):
    """The module an L-Mul layer was made from by from_linear/from_conv2d, or None."""
    return module.__dict__.get("_lmul_simd_original")
