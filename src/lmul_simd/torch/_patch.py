"""patch / unpatch: L-Mul into a model's attention products and layers, in place."""
import contextlib

import torch
from torch import nn

from ._functions import scaled_dot_product_attention
from ._modules import Conv2d, Linear, original

SCOPES = ("attention", "linear", "all")
_STATE = "_lmul_simd_attention"      # the model's attention implementation before patch()


def patch(model, scope="attention", k=None):
    """Puts L-Mul into `model` in place and returns it.

    scope "attention": the two products of every attention (Q K^T, P V) of a
    Hugging Face transformers model, through its attention-function registry
    (AttentionInterface; the model's `set_attn_implementation`). "linear":
    every nn.Linear and nn.Conv2d becomes lmul_simd.torch.Linear / Conv2d over
    the same parameters. "all": both. k: mantissa bits (None: the format's).
    A patched model is patched anew; unpatch(model) restores it.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    unpatch(model)
    if scope in ("attention", "all"):
        _patch_attention(model, k)
    if scope in ("linear", "all"):
        swap_layers(model, lambda child: _lmul_layer(child, k))
    return model


def unpatch(model):
    """Undoes patch(model): the original layers and attention come back."""
    swap_layers(model, original)
    previous = model.__dict__.pop(_STATE, None)
    if previous is not None:
        model.set_attn_implementation(previous)
    return model


def _lmul_layer(module, k):
    if type(module) is nn.Linear:
        return Linear.from_linear(module, k)
    if type(module) is nn.Conv2d:
        return Conv2d.from_conv2d(module, k)
    return None


def swap_layers(model, replacement):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = replacement(child)
            if new is not None:
                setattr(parent, name, new)


# --- attention through transformers' registry ----------------------------------

def attention_implementation(k=None):
    """The name under which L-Mul attention with k bits is registered in
    transformers' AttentionInterface (and its mask interface), registering
    it on first use: `model.set_attn_implementation(name)` selects it."""
    name = "lmul_simd" if k is None else f"lmul_simd_k{k}"
    register_attention(name, _transformers_attention(k))
    return name


def register_attention(name, function):
    """Registers `function` (transformers' attention-function signature) under
    `name`, with the boolean masks of "sdpa" (True = keep), once."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    if name not in AttentionInterface._global_mapping:
        AttentionInterface.register(name, function)
        AttentionMaskInterface.register(name, sdpa_mask)


def sdpa_arguments(module, query, key, value, attention_mask, is_causal, **kwargs):
    """(key, value, is_causal) as transformers' "sdpa" attention decides them."""
    if kwargs.get("softcap") is not None or kwargs.get("position_bias") is not None:
        raise NotImplementedError("no softcap or position bias here")
    is_causal = getattr(module, "is_causal", True) if is_causal is None else is_causal
    is_causal = query.shape[2] > 1 and attention_mask is None and is_causal
    if is_causal and key.shape[2] > query.shape[2]:   # prefill of an empty static cache
        key, value = key[:, :, :query.shape[2]], value[:, :, :query.shape[2]]
    return key, value, is_causal


def _transformers_attention(k):
    def lmul_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                       is_causal=None, **kwargs):
        """transformers' "sdpa" attention function with L-Mul products."""
        key, value, is_causal = sdpa_arguments(module, query, key, value, attention_mask,
                                               is_causal, **kwargs)
        out = scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                           dropout_p=dropout, is_causal=is_causal,
                                           scale=scaling, k=k)
        return out.transpose(1, 2).contiguous(), None
    return lmul_attention


def _patch_attention(model, k):
    use_attention(model, attention_implementation(k))


def use_attention(model, name):
    """Switches a transformers model to the registered attention `name`
    until unpatch(model)."""
    if not hasattr(model, "set_attn_implementation"):
        raise TypeError(
            f"scope='attention' reaches Hugging Face transformers models (through their "
            f"attention registry); {type(model).__name__} is not one. For a model that "
            f"calls torch.nn.functional.scaled_dot_product_attention, run it inside "
            f"`with lmul_simd.torch.patched_sdpa(k):`")
    previous = model.__dict__.get(_STATE, model.config._attn_implementation)
    model.set_attn_implementation(name)
    if model.config._attn_implementation != name:
        raise TypeError(f"{type(model).__name__} cannot switch its attention "
                        f"implementation (it does not use transformers' AttentionInterface)")
    model.__dict__[_STATE] = previous


@contextlib.contextmanager
def patched_sdpa(k=None):
    """Within the block, torch.nn.functional.scaled_dot_product_attention is
    the L-Mul one (process-wide: for models that call it directly)."""
    exact = torch.nn.functional.scaled_dot_product_attention

    def lmul_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                  scale=None, enable_gqa=False):
        return scaled_dot_product_attention(query, key, value, attn_mask, dropout_p,
                                            is_causal, scale, enable_gqa, k)
    torch.nn.functional.scaled_dot_product_attention = lmul_sdpa
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = exact
