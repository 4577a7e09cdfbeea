"""Narrow-format emulation for the study's reference rows: every operand of
every product (linear layers, Q K^T, P V) rounded to the format (clipped to
its finite range first, as lmul_simd.accuracy does), then multiplied and
summed exactly in float32, as float8/bfloat16 hardware with float32
accumulation does."""
import torch

from lmul_simd.accuracy import quantize
import lmul_simd.torch as lt
from lmul_simd.torch._patch import register_attention, sdpa_arguments, swap_layers, use_attention

F = torch.nn.functional


def rounded(t, fmt):
    """t rounded to format `fmt`, as float32 (no autograd: a study tool)."""
    values = quantize(t.detach().to(torch.float32).numpy(), fmt)
    return torch.from_numpy(values.astype("float32"))


class EmulatedLinear(lt.Linear):
    """nn.Linear whose input and weight are rounded to `fmt` (self.k holds it)."""

    def forward(self, x):
        return F.linear(rounded(x, self.k), rounded(self.weight, self.k), self.bias)


def _emulated_attention(fmt):
    def attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                  is_causal=None, **kwargs):
        key, value, is_causal = sdpa_arguments(module, query, key, value, attention_mask,
                                               is_causal, **kwargs)
        groups = query.shape[1] // key.shape[1]
        key, value = (x.repeat_interleave(groups, dim=1) for x in (key, value))
        scores = rounded(query, fmt) @ rounded(key, fmt).transpose(-1, -2)
        scores = scores * (scaling if scaling is not None else query.shape[-1] ** -0.5)
        if is_causal:
            attention_mask = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        if attention_mask is not None and attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, float("-inf"))
        elif attention_mask is not None:
            scores = scores + attention_mask
        p = torch.softmax(scores, dim=-1).nan_to_num(0.0)   # rows that see no key: 0
        out = rounded(p, fmt) @ rounded(value, fmt)
        return out.transpose(1, 2).contiguous(), None
    return attention


def emulate(model, fmt):
    """Every product of a transformers model in format `fmt`; undo with
    lmul_simd.torch.unpatch(model)."""
    lt.unpatch(model)
    name = f"lmul_simd_emulated_{fmt}"
    register_attention(name, _emulated_attention(fmt))
    use_attention(model, name)
    swap_layers(model, lambda m: EmulatedLinear.from_linear(m, fmt)
                if type(m) is torch.nn.Linear else None)
    return model
