"""``tn.autocast``: automatic mixed precision, as ``torch.autocast``.

Inside ``with tn.autocast("cuda"):`` the matrix products and convolutions of tensors on the
cuda device run in float16 (their floating inputs are cast on entry to each op), and the
ops where float16 loses accuracy (losses, softmax-like reductions, norms) run in float32.
Everything else runs in its inputs' dtype. The per-op lists are PyTorch's, for the ops
tinynet has; they live with the ops, in ``tinynet/functional/_autocast.py``.

Each cast is the ordinary differentiable ``.to(dtype)``: a float32 parameter used by a
float16 matmul receives a float32 gradient. Use autocast for the forward pass and the loss;
call ``backward()`` after leaving the region (as PyTorch recommends).

The default dtype: float16 on both device types. PyTorch's CPU autocast defaults to
bfloat16, which tinynet cannot store (NumPy has no bfloat16 type), so tinynet's CPU default
is float16, the other dtype PyTorch's CPU autocast accepts. ``dtype="bfloat16"`` raises the
error that says so.
"""
from __future__ import annotations

import functools
import warnings

from ..autograd import autocast_state as _state
from ..backend import registry as _registry
from ..tensor import dtypes as _dtypes

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "set_autocast_enabled",
           "get_autocast_dtype", "set_autocast_dtype", "is_autocast_cache_enabled",
           "set_autocast_cache_enabled", "clear_autocast_cache"]

#: the dtypes each device type's autocast supports (PyTorch also accepts bfloat16: see above)
_SUPPORTED = {"cpu": ("float16",), "cuda": ("float16",)}


def is_autocast_available(device_type: str) -> bool:
    """True for the device types tinynet's autocast supports: "cpu" and "cuda"."""
    return device_type in _state.DEVICE_TYPES


def is_autocast_enabled(device_type=None) -> bool:
    """True inside an enabled autocast region of ``device_type`` (default "cuda", as PyTorch)."""
    return _state.is_autocast_enabled(device_type)


def set_autocast_enabled(device_type, enabled):
    """Switch autocast on or off for ``device_type`` (prefer the ``tn.autocast`` context)."""
    _state.set_autocast_enabled(device_type, enabled)


def get_autocast_dtype(device_type):
    """The dtype autocast casts to on ``device_type`` (float16 unless changed)."""
    return _dtypes.wrap(_dtypes.to_dtype(_state.get_autocast_dtype_name(device_type)))


def set_autocast_dtype(device_type, dtype):
    """Set the dtype autocast uses on ``device_type`` when ``tn.autocast`` is given none."""
    name = _dtypes.to_dtype(dtype).name
    if name not in _SUPPORTED.get(device_type, ()):
        _state.get_autocast_dtype_name(device_type)  # raises for an unknown device type
        raise ValueError(f"set_autocast_dtype: {device_type} autocast supports {_SUPPORTED[device_type]}, "
                         f"got {name}")
    _state.set_autocast_dtype_name(device_type, name)


is_autocast_cache_enabled = _state.is_autocast_cache_enabled
set_autocast_cache_enabled = _state.set_autocast_cache_enabled
clear_autocast_cache = _state.clear_autocast_cache


class autocast:
    """``tn.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: PyTorch's.

    A context manager (``with tn.autocast("cuda"): loss = model(x)``) and a decorator
    (``@tn.autocast("cuda")``). Regions nest: an inner ``enabled=False`` region turns autocast
    off for its ops, and leaving it restores the outer setting. ``dtype`` defaults to the
    device type's autocast dtype (float16; see the module docstring for cpu). An unsupported
    dtype, or "cuda" without a cuda device, warns and disables autocast for the region, as
    PyTorch does. ``cache_enabled`` (default: the global setting, True) reuses each
    parameter's low-precision copy within the region instead of casting it at every use.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"autocast: expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"autocast: unsupported device_type {device_type!r}; tinynet's autocast supports "
                               f"{_state.DEVICE_TYPES}")
        if not isinstance(enabled, bool):
            raise TypeError(f"autocast: enabled must be a bool, got {type(enabled).__name__}")
        if cache_enabled is not None and not isinstance(cache_enabled, bool):
            raise TypeError(f"autocast: cache_enabled must be a bool or None, got {type(cache_enabled).__name__}")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else _dtypes.wrap(_dtypes.to_dtype(dtype))
        self._enabled = enabled
        self._cache_enabled = _state.is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if self._enabled and device_type == "cuda" and not (_registry.cuda_available() or _registry.simulated_cuda()):
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling",
                          UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled and self.fast_dtype.name not in _SUPPORTED[device_type]:
            warnings.warn(f"In {device_type} autocast, but the target dtype {self.fast_dtype} is not supported "
                          f"(supported: {_SUPPORTED[device_type]}). Disabling autocast.", UserWarning, stacklevel=2)
            self._enabled = False
        self._prev = None

    def __enter__(self):
        dev = self.device
        self._prev = (_state.is_autocast_enabled(dev), _state.get_autocast_dtype_name(dev),
                      _state.is_autocast_cache_enabled())
        _state.set_autocast_enabled(dev, self._enabled)
        _state.set_autocast_dtype_name(dev, self.fast_dtype.name)
        _state.set_autocast_cache_enabled(self._cache_enabled)
        _state.increment_nesting()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if _state.decrement_nesting() == 0:
            _state.clear_autocast_cache()
        enabled, dtype_name, cache = self._prev
        _state.set_autocast_enabled(self.device, enabled)
        _state.set_autocast_dtype_name(self.device, dtype_name)
        _state.set_autocast_cache_enabled(cache)
        return False

    def __call__(self, func):
        """Decorator: each call of ``func`` runs in a fresh region with these settings."""
        args = (self.device, self.fast_dtype, self._enabled, self._cache_enabled)

        @functools.wraps(func)
        def decorate_autocast(*a, **kw):
            region = autocast.__new__(autocast)  # the settings were validated (and warned about) once
            region.device, region.fast_dtype, region._enabled, region._cache_enabled = args
            region._prev = None
            with region:
                return func(*a, **kw)

        return decorate_autocast

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, enabled={self._enabled}, "
                f"cache_enabled={self._cache_enabled})")
