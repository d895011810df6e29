"""Making tensors: from data, filled, ranges, identity, random, and ``*_like``.

Sizes are given PyTorch's way, ``zeros(2, 3)`` or ``zeros((2, 3))``. Floating results
default to float32 (``tn.get_default_dtype()``), integer ones to int64.
"""
from __future__ import annotations

import numpy as _np

from ..backend.errors import ShapeError
from ..backend import get_device
from . import dtypes as _dt
from .random import generator
from .tensor import Tensor


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, _np.integer)) or isinstance(s, bool) or s < 0:
            raise ShapeError(f"sizes must be non-negative integers, got {size!r}")
        out.append(int(s))
    return tuple(out)


def _wrap(array, device, requires_grad):
    t = Tensor._make(array, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor copied from ``data`` (numbers, nested lists, NumPy arrays, tensors).

    Python floats give float32, Python ints give int64, bools give bool; NumPy arrays keep
    their floating dtype.
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but returns ``data`` itself when it already fits."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dt.to_dtype(dtype)) and (
        device is None or data.device == device
    ):
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array) -> Tensor:
    """A cpu tensor sharing memory with a NumPy array."""
    if not isinstance(array, _np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array, get_device("cpu"))


def from_dlpack(obj) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, PyTorch, CuPy arrays)."""
    if isinstance(obj, Tensor):
        return obj.detach()
    dev_type, _ = obj.__dlpack_device__()
    if dev_type == 1:  # kDLCPU
        return Tensor._make(_np.from_dlpack(obj), get_device("cpu"))
    device = get_device("cuda")
    return Tensor._make(device.xp.from_dlpack(obj), device)


def _filled(fill, size, dtype, device, requires_grad, default=None):
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or default or _dt.get_default_dtype()
    return _wrap(dev.xp.full(_size(size), fill, dtype=dt), dev, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like ``zeros`` (tinynet never hands out uninitialised memory)."""
    return _filled(0, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value)."""
    default = _dt.bool_ if isinstance(fill_value, bool) else _dt.int64 if isinstance(fill_value, int) else None
    return _filled(fill_value, (size,) if isinstance(size, (tuple, list)) else (size,), dtype, device, requires_grad, default)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    dev = get_device(device)
    is_int = all(isinstance(v, (int, _np.integer)) for v in (start, end, step))
    dt = _dt.to_dtype(dtype) or (_dt.int64 if is_int else _dt.get_default_dtype())
    return _wrap(dev.xp.arange(start, end, step, dtype=dt), dev, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    return _wrap(dev.xp.linspace(start, end, steps, dtype=dt), dev, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    return _wrap(dev.xp.eye(n, m, dtype=dt), dev, requires_grad)


def _random(draw, size, dtype, device, requires_grad):
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    host = draw(generator(), _size(size)).astype(dt, copy=False)
    return _wrap(dev.from_host(host) if dev.xp is not _np else host, dev, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _random(lambda g, s: g.random(s), size, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    return _random(lambda g, s: g.standard_normal(s), size, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size=...)`` also works)."""
    if high is None:
        low, high = 0, low
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.int64
    host = generator().integers(low, high, size=_size((size,) if isinstance(size, (tuple, list)) else (size,))).astype(dt)
    return _wrap(dev.from_host(host) if dev.xp is not _np else host, dev, False)


def randperm(n, device=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    dev = get_device(device)
    host = generator().permutation(n).astype(_np.int64)
    return _wrap(dev.from_host(host) if dev.xp is not _np else host, dev, False)


def _like(maker, t, dtype, device, requires_grad, *args):
    return maker(*args, t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(rand, t, dtype, device, requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(randn, t, dtype, device, requires_grad)
