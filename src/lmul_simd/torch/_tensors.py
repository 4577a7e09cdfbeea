"""torch tensors as NumPy arrays over the same memory, and back."""
import ml_dtypes
import numpy as np
import torch

# torch dtypes NumPy does not know, read through an integer view of one width
_BIT_VIEWS = {
    torch.bfloat16: (torch.int16, np.dtype(ml_dtypes.bfloat16)),
    torch.float8_e4m3fn: (torch.uint8, np.dtype(ml_dtypes.float8_e4m3fn)),
    torch.float8_e5m2: (torch.uint8, np.dtype(ml_dtypes.float8_e5m2)),
}
_NUMPY_INT = {torch.int16: np.int16, torch.uint8: np.uint8}
_FROM_NUMPY = {np_dtype: (_NUMPY_INT[int_dtype], dtype)
               for dtype, (int_dtype, np_dtype) in _BIT_VIEWS.items()}
_FLOATS = (torch.float16, torch.float32, torch.float64, *_BIT_VIEWS)


def as_numpy(t):
    """A NumPy view of a CPU tensor (any strides, no copy)."""
    if t.device.type != "cpu":
        raise ValueError(f"expected a CPU tensor, got one on {t.device}")
    if t.dtype not in _FLOATS:
        raise TypeError(f"L-Mul takes floating-point tensors, got {t.dtype}")
    t = t.detach().resolve_conj().resolve_neg()
    if t.dtype in _BIT_VIEWS:
        int_dtype, np_dtype = _BIT_VIEWS[t.dtype]
        return t.view(int_dtype).numpy().view(np_dtype)
    return t.numpy()


def from_numpy(a, device=None):
    """A tensor over a NumPy result (no copy on the CPU)."""
    a = np.asarray(a)
    if a.dtype in _FROM_NUMPY:
        int_dtype, dtype = _FROM_NUMPY[a.dtype]
        t = torch.from_numpy(a.view(int_dtype)).view(dtype)
    else:
        t = torch.from_numpy(a)
    return t if device is None else t.to(device)
