"""Making tensors: from data, filled, ranges, identity, random, and ``*_like``.

Sizes are given PyTorch's way, ``zeros(2, 3)`` or ``zeros((2, 3))``. Floating results
default to float32 (``tn.get_default_dtype()``), integer ones to int64.
"""
from __future__ import annotations

import numpy as _np

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..backend import get_device
from . import dtypes as _dt
from .random import resolve
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


def _number(v):
    return v.item() if isinstance(v, Tensor) else v


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values ``start + i * step`` below ``end`` (exclusive); int64 for integer arguments.

    As PyTorch: with an integer ``dtype`` the bounds and step are first truncated to integers
    (``arange(0, 5, 1.5, dtype=tn.int64)`` is ``[0, 1, 2, 3, 4]``); with a floating one the
    length is ``ceil((end - start) / step)`` and the values are computed in float64.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v) for v in (start, end, step))
    dev = get_device(device)
    is_int = all(isinstance(v, (int, _np.integer)) for v in (start, end, step))
    dt = _dt.to_dtype(dtype) or (_dt.int64 if is_int else _dt.get_default_dtype())
    if dt.kind in "iub":
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ArgumentError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ArgumentError(f"arange: the bounds and the step's sign disagree (start={start}, end={end}, "
                         f"step={step}): no value lies between them")
    if dt.kind in "iub":
        host = _np.arange(start, end, step, dtype=_np.int64)
    else:
        n = max(int(_np.ceil((end - start) / step)), 0)
        host = start + _np.arange(n, dtype=_np.float64) * step
    return _host_to(host.astype(dt), dev, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float64 math, then
    converted: an integer ``dtype`` truncates toward zero, as PyTorch)."""
    start, end = _number(start), _number(end)
    if not isinstance(steps, (int, _np.integer)) or steps < 0:
        raise ArgumentError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    if dt.kind == "b":
        raise DTypeError("linspace: dtype bool is not supported (as in PyTorch); use a number dtype")
    return _host_to(_np.linspace(start, end, steps, dtype=_np.float64).astype(dt), dev, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    host = _np.float64(base) ** _np.linspace(_number(start), _number(end), steps)
    return _host_to(host.astype(dt), dev, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    return _wrap(dev.xp.eye(n, m, dtype=dt), dev, requires_grad)


def _host_to(host, dev, requires_grad):
    return _wrap(dev.from_host(host) if dev.xp is not _np else host, dev, requires_grad)


def _random(draw, size, dtype, device, requires_grad, gen):
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    if dt.kind != "f":
        raise TypeError(f"random floats can't have dtype {dt}: pass a floating dtype (tn.float32, tn.float64)")
    return _host_to(draw(resolve(gen), _size(size)).astype(dt, copy=False), dev, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) (from ``generator``, a :class:`tn.Generator`, or the global one)."""
    return _random(lambda g, s: g.random(s), size, dtype, device, requires_grad, generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    return _random(lambda g, s: g.standard_normal(s), size, dtype, device, requires_grad, generator)


def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False, low=None,
            high=None) -> Tensor:
    """Integers drawn uniformly from [low, high), PyTorch's signatures:

    ``randint(high, size)``, ``randint(low, high, size)``, and the keyword forms
    (``randint(0, 10, size=(3,))``, ``randint(high=5, size=(2,))``). ``size`` is a tuple.
    """
    pos = list(args)
    if size is None and pos and isinstance(pos[-1], (tuple, list)):
        size = pos.pop()
    if len(pos) == 2:
        low, high = pos
    elif len(pos) == 1:
        if high is None:
            high = pos[0]
        else:
            low = pos[0]
    elif pos:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got {len(args)} positional arguments")
    if high is None or size is None:
        raise TypeError("randint: missing 'high' or 'size'; call randint(high, size) or randint(low, high, size) "
                        "with size a tuple, e.g. tn.randint(0, 10, (3,))")
    low = 0 if low is None else low
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {type(size).__name__}")
    if int(high) <= int(low):
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.int64
    host = resolve(generator).integers(int(low), int(high), size=_size(tuple(size))).astype(dt)
    return _host_to(host, dev, requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype``)."""
    dev = get_device(device)
    host = resolve(generator).permutation(int(n)).astype(_dt.to_dtype(dtype) or _np.int64)
    return _host_to(host, dev, requires_grad)


def randint_like(t, *args, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randint(low, high, t.shape)`` (or ``randint_like(t, high)``) with ``t``'s dtype and device."""
    return randint(*args, tuple(t.shape), dtype=dtype or t.dtype, device=device or t.device,
                   requires_grad=requires_grad)


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
