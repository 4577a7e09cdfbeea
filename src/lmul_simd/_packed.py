"""Pre-packed operands: a matrix B (a model's weights) packed and prepared for
L-Mul once, then used as the second operand of any number of products.

    >>> w = lmul_simd.pack(weights)          # (k, n), once
    >>> y = lmul_simd.matmul(x, w)           # or x @ w; same bits as matmul(x, weights)
"""
import functools
import threading

import numpy as np
from numpy.typing import ArrayLike

from . import _api

# the C library's lmul_format codes, and each format's own k
_FORMATS = {"float32": (0, 23), "float64": (1, 52), "float16": (2, 10),
            "bfloat16": (3, 7), "float8_e4m3fn": (4, 3), "float8_e5m2": (5, 2)}
_FLOAT32_MANTISSA = 23


@functools.lru_cache(maxsize=None)
def _dtype_name(dtype):
    """dtype.name, cached by the dtype: NumPy computes it in Python on every
    access (microseconds), which each product with a packed operand would
    pay several times."""
    return np.dtype(dtype).name


def _format(dtype):
    return _FORMATS[_dtype_name(dtype)][0]


def _own_k(dtype):
    return _FORMATS[_dtype_name(dtype)][1]


def _result_dtype(loop):
    """The dtype matmul gives for a loop's inputs: float8 sums are float32."""
    return np.dtype(np.float32) if _dtype_name(loop).startswith("float8") else loop


@functools.lru_cache(maxsize=None)
def _loop_dtype(ufunc, a_dtype, b_dtype):
    """The input dtype of the loop `ufunc` runs for these operands (both are
    cast to it, as matmul casts them), found by asking the ufunc itself."""
    try:
        result = ufunc(np.zeros((1, 1), a_dtype), np.zeros((1, 1), b_dtype)).dtype
    except TypeError as error:
        raise TypeError(f"{ufunc.__name__}: an operand of dtype {a_dtype} does not "
                        f"combine with a packed operand of dtype {b_dtype} "
                        f"({error})") from None
    if a_dtype == b_dtype and result == _result_dtype(a_dtype):
        return a_dtype
    return result


class PackedMatrix:
    """A matrix B packed and prepared for L-Mul once; see `lmul_simd.pack`.

    Attributes: shape (k, n), dtype, k (None: each product's own format),
    layouts (the (instruction set, loop dtype, k) of each packing held)."""

    __slots__ = ("_b", "_k", "_packs", "_lock", "__weakref__")

    def __init__(self, b, k=None):
        b = np.asarray(b)
        if b.ndim != 2:
            raise ValueError(f"pack expects a 2-D matrix (k, n), got {b.ndim}-D")
        if b.dtype.name not in _FORMATS:
            raise TypeError(f"pack: unsupported dtype {b.dtype}; use float16, "
                            f"float32, float64, bfloat16, float8_e4m3fn or float8_e5m2")
        if k is not None:
            k = _api._mantissa_bits(k)
            _api.matmul_k(k)               # validates k, with matmul_k's message
        self._b = np.array(b, copy=True)   # for packing again (another ISA, format)
        self._b.flags.writeable = False
        self._k = k
        self._packs = {}
        self._lock = threading.Lock()
        self._packed_for(self._own_loop())

    shape = property(lambda self: self._b.shape)
    dtype = property(lambda self: self._b.dtype)
    k = property(lambda self: self._k)
    ndim = 2

    @property
    def layouts(self):
        return tuple(self._packs)

    def __repr__(self):
        return (f"PackedMatrix(shape={self.shape}, dtype={self.dtype}, k={self._k}, "
                f"layouts={list(self._packs)})")

    def _own_loop(self):
        """The loop of matmul(b, b): float64 for a k only float64 holds."""
        if self._k is not None and self._k > _FLOAT32_MANTISSA:
            return np.dtype(np.float64)
        return self._b.dtype

    def _packed_for(self, loop):
        """The C pack for this loop dtype at the active instruction set."""
        from . import _core
        k = self._k if self._k is not None else _own_k(loop)
        key = (_core.get_isa(), _dtype_name(loop), k)
        pack = self._packs.get(key)
        if pack is None:
            with self._lock:
                pack = self._packs.get(key)
                if pack is None:
                    b = self._b.astype(loop, copy=False)
                    pack = self._packs[key] = _core.PackedB(b, _format(loop), k)
        return pack

    # ------------------------------------------------------------ products

    def _matmul(self, a, ufunc, k, out=None):
        if k != self._k:
            raise ValueError(
                f"{ufunc.__name__}: this operand was packed with k={self._k}; use "
                + ("lmul_simd.matmul" if self._k is None
                   else f"lmul_simd.matmul_k({self._k})") + " or pack it again")
        a = np.asarray(a)
        if a.ndim == 0:
            raise ValueError(f"{ufunc.__name__}: a 0-d operand has no matrix product")
        kdim, n = self.shape
        if a.shape[-1] != kdim:
            raise ValueError(f"{ufunc.__name__}: inner dimensions differ: {a.shape} "
                             f"@ packed {self.shape}")
        loop = _loop_dtype(ufunc, a.dtype, self.dtype)
        pack = self._packed_for(loop)
        rows = a.reshape(-1, kdim).astype(loop, copy=False)
        c = np.empty((rows.shape[0], n), _result_dtype(loop))
        pack.compute(rows, c, _format(loop), _format(c.dtype))
        c = c.reshape(a.shape[:-1] + (n,))
        if out is None:
            return c
        if out.shape != c.shape:
            raise ValueError(f"{ufunc.__name__}: out has shape {out.shape}, the "
                             f"product {c.shape}")
        np.copyto(out, c, casting="same_kind")
        return out

    def __rmatmul__(self, a):
        return self._matmul(a, _api.matmul, None)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        """matmul(a, packed) and matmul_k(k)(a, packed) (and a @ packed, which
        NumPy sends here through numpy.matmul); nothing else."""
        k = _matmul_k_of(ufunc)
        if method != "__call__" or k is False or len(inputs) != 2 or inputs[1] is not self:
            return NotImplemented
        if kwargs:
            raise TypeError(f"{ufunc.__name__}: with a packed operand only out= is "
                            f"supported, not {', '.join(kwargs)}")
        if isinstance(out, tuple):
            out = out[0]
        if ufunc is np.matmul:
            ufunc = _api.matmul
        return self._matmul(inputs[0], ufunc, k, out)


def _matmul_k_of(ufunc):
    """None for matmul (lmul_simd's, or numpy's from `a @ packed`), k for
    lmul_simd.matmul_k(k), False for any other ufunc."""
    if ufunc is _api.matmul or ufunc is np.matmul:
        return None
    name = getattr(ufunc, "__name__", "")
    if name.startswith("matmul_k") and name[8:].isdigit():
        k = int(name[8:])
        if 1 <= k <= 52 and ufunc is _api.matmul_k(k):
            return k
    return False


def pack(b: ArrayLike, k: int | None = None) -> PackedMatrix:
    """B (a 2-D matrix (k, n), float16/32/64, bfloat16 or float8) packed and
    prepared for L-Mul once, for `matmul(a, packed)` or `a @ packed`.

    The result is bit for bit that of `matmul(a, b)` (or `matmul_k(k)(a, b)`
    when k is given; a pack made with k is used only with matmul_k(k)). `a`
    may be of any dtype matmul accepts with b's; its batch dimensions and a
    1-D `a` work as in matmul. The packing is made for the active instruction
    set and made again, transparently, for another one (or for a product in
    another container, such as float64 `a` with float32 `b`), from a private
    read-only copy of b the object keeps. Any number of threads may use it at
    once.
    """
    if _api.backend != "c":
        raise RuntimeError("lmul_simd.pack needs the compiled C extension "
                           f"(the {_api.backend} backend is in use)")
    return PackedMatrix(b, k)
