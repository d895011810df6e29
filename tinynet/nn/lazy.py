"""Lazy layers: the input size is read from the first input instead of being given.

``nn.LazyLinear(out_features)`` is a ``Linear`` whose ``in_features`` is not known yet: its
``weight`` and ``bias`` are :class:`UninitializedParameter` placeholders (no data). The first
forward reads ``in_features`` from the input (``x.shape[-1]``; ``in_channels`` /
``num_features`` from the channel axis for the convolution and normalisation layers),
creates the parameters with the ordinary layer's initialisation, *in the placeholder objects
themselves*, and the module then becomes the ordinary class (PyTorch's ``cls_to_become``:
``type(m) is nn.Linear`` afterwards). The parameters live on the device and dtype given to the
constructor, or, when none was given, on the first input's device and dtype.

Build an optimizer after a dry-run forward (``model(example)``), as PyTorch advises. Before
the first forward, ``state_dict()`` holds the placeholders themselves (as PyTorch's does);
``load_state_dict`` of a trained layer's state into a lazy layer materialises the parameters
with the loaded shapes (PyTorch's lazy load hook) and the layer becomes the ordinary class.
"""
from __future__ import annotations

from ..backend import get_device
from ..backend.errors import ShapeError
from ..tensor import dtypes as _dt
from ..tensor.random import get_rng_state, set_rng_state
from ..tensor.tensor import Tensor
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .parameter import Parameter

__all__ = [
    "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d",
    "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear", "UninitializedBuffer", "UninitializedParameter",
]


def _placeholder_array(device, dtype):
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    return Tensor._make(dev.xp.empty((0,), dtype=dt), dev)


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet (a lazy layer's placeholder): no data until
    :meth:`materialize` gives it a shape, turning it into an ordinary :class:`Parameter`."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(_placeholder_array(device, dtype), requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        """Give the parameter memory of ``shape`` (uninitialised values) on ``device``/``dtype``
        (default: the placeholder's) and make it an ordinary Parameter."""
        dev = self.device if device is None else get_device(device)
        dt = self.array.dtype if dtype is None else _dt.to_dtype(dtype)
        self.array = dev.xp.empty(tuple(int(s) for s in shape), dtype=dt)
        self.device = dev
        self.__class__ = self.cls_to_become
        self._bump()

    def __repr__(self):
        return "<UninitializedParameter>"

    def __deepcopy__(self, memo):
        out = UninitializedParameter(self._requires_grad, self.device, self.array.dtype)
        memo[id(self)] = out
        return out


class UninitializedBuffer(Tensor):
    """A buffer (e.g. BatchNorm's running statistics) whose shape is not known yet; see
    :class:`UninitializedParameter`."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        base = _placeholder_array(device, dtype)
        super().__init__(base)
        if requires_grad:
            self.requires_grad_(True)

    def materialize(self, shape, device=None, dtype=None):
        """Give the buffer memory of ``shape`` and make it an ordinary Tensor."""
        dev = self.device if device is None else get_device(device)
        dt = self.array.dtype if dtype is None else _dt.to_dtype(dtype)
        self.array = dev.xp.empty(tuple(int(s) for s in shape), dtype=dt)
        self.device = dev
        self.__class__ = self.cls_to_become
        self._bump()

    def __repr__(self):
        return "<UninitializedBuffer>"


#: Attributes every Module has (hooks, tables, mode): never copied from the built layer.
_MODULE_KEYS = frozenset(Module().__dict__)


def _lazy_load_hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
    """Load pre-hook of a lazy layer: a loaded (initialised) weight gives the input size."""
    if not isinstance(module, _LazyMixin) or not module.has_uninitialized_params():
        return
    key = prefix + module._size_param
    value = state_dict.get(key)
    if isinstance(value, Tensor) and not isinstance(value, (UninitializedParameter, UninitializedBuffer)):
        module._materialize(module._size_from_param(tuple(value.shape)), module._device, module._dtype)


class _LazyMixin:
    """Shared machinery: placeholders, the first-forward inference, the class switch."""

    cls_to_become = None
    _size_attr = ""          # in_features / in_channels / num_features
    _size_param = "weight"   # the parameter whose loaded shape gives the size
    _spatial = 0             # spatial axes of the input (conv and norm layers; 0 for Linear)

    def _lazy_init(self, args, kwargs, probe_size):
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        Module.__init__(self)
        object.__setattr__(self, "_lazy_args", (args, kwargs))
        object.__setattr__(self, "_device", device)
        object.__setattr__(self, "_dtype", dtype)
        # a probe of the ordinary layer tells the parameter/buffer names and the configuration
        # (for the repr); the generator state is restored, so the probe draws no random numbers
        state = get_rng_state()
        try:
            probe = self.cls_to_become(probe_size, *args, device=device, dtype=dtype, **kwargs)
        finally:
            set_rng_state(state)
        for k, v in probe.__dict__.items():
            if k not in _MODULE_KEYS:
                object.__setattr__(self, k, v)
        object.__setattr__(self, self._size_attr, 0)
        for name, p in probe._parameters.items():
            self.register_parameter(name, None if p is None else
                                    UninitializedParameter(p.requires_grad, p.device, p.array.dtype))
        for name, b in probe._buffers.items():
            if b is None or b.ndim == 0:      # num_batches_tracked: an ordinary scalar already
                self.register_buffer(name, b)
            else:
                self.register_buffer(name, UninitializedBuffer(False, b.device, b.array.dtype))
        if hasattr(Module, "register_load_state_dict_pre_hook"):
            self.register_load_state_dict_pre_hook(_lazy_load_hook)

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer is still a placeholder (PyTorch's name)."""
        tables = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, (UninitializedParameter, UninitializedBuffer)) for t in tables)

    def _infer_size(self, x):
        """The input size read from the first input ``x``."""
        label = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")
        n = self._spatial
        if n == 0:
            if x.ndim == 0:
                raise ShapeError(f"{label}: expected an input with a feature axis (..., in_features), got a 0-d tensor")
            return int(x.shape[-1])
        if x.ndim not in (n + 1, n + 2):
            raise ShapeError(f"{label}: expected a {n + 2}-D (N, C, ...) or {n + 1}-D unbatched input, got shape "
                             f"{tuple(x.shape)}")
        return int(x.shape[1] if x.ndim == n + 2 else x.shape[0])

    def _size_from_param(self, shape):
        return int(shape[1])

    def initialize_parameters(self, input):
        """Infer the input size from ``input`` and create the parameters (PyTorch's name)."""
        if self.has_uninitialized_params() or type(self) is not self.cls_to_become:
            device = self._device if self._device is not None else input.device
            dtype = self._dtype if self._dtype is not None else input.dtype
            self._materialize(self._infer_size(input), device, dtype)

    def _materialize(self, size, device, dtype):
        args, kwargs = self._lazy_args
        real = self.cls_to_become(size, *args, device=device, dtype=dtype, **kwargs)
        for table in ("_parameters", "_buffers"):
            mine = getattr(self, table)
            for name, t in getattr(real, table).items():
                ph = mine.get(name)
                if isinstance(ph, (UninitializedParameter, UninitializedBuffer)) and t is not None:
                    ph.materialize(t.shape, t.device, t.array.dtype)
                    ph.array[...] = t.array
                    ph._bump()
                else:
                    mine[name] = t
        for k, v in real.__dict__.items():
            if k not in _MODULE_KEYS:
                object.__setattr__(self, k, v)
        for k in ("_lazy_args", "_device", "_dtype"):
            self.__dict__.pop(k, None)
        self.__class__ = self.cls_to_become

    def forward(self, *args, **kwargs):
        if not args:
            raise TypeError(f"{type(self).__name__}: forward needs the input tensor")
        self.initialize_parameters(args[0])
        return self.forward(*args, **kwargs)        # the ordinary layer's forward, now

    def _state_dict_into(self, out, prefix, keep_vars):
        super()._state_dict_into(out, prefix, keep_vars)
        for table in (self._parameters, self._buffers):
            for name, t in table.items():
                if isinstance(t, (UninitializedParameter, UninitializedBuffer)) and prefix + name in out:
                    out[prefix + name] = t


# --- the layers -----------------------------------------------------------------------------------
class LazyLinear(_LazyMixin, Linear):
    """``Linear`` with ``in_features`` read from the first input's last axis (see the module docstring)."""

    cls_to_become = Linear
    _size_attr = "in_features"

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        self._lazy_init((out_features,), dict(bias=bias, device=device, dtype=dtype), 1)


class _LazyConv(_LazyMixin):
    _size_attr = "in_channels"

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias,
                      padding_mode=padding_mode, device=device, dtype=dtype)
        self._lazy_init((out_channels, kernel_size), kwargs, int(groups) if isinstance(groups, int) else 1)

    def _size_from_param(self, shape):
        return int(shape[1]) * self.groups


class _LazyConvTranspose(_LazyMixin):
    _size_attr = "in_channels"

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, bias=bias,
                      dilation=dilation, padding_mode=padding_mode, device=device, dtype=dtype)
        self._lazy_init((out_channels, kernel_size), kwargs, int(groups) if isinstance(groups, int) else 1)

    def _size_from_param(self, shape):
        return int(shape[0])


class LazyConv1d(_LazyConv, Conv1d):
    """``Conv1d`` with ``in_channels`` read from the first input (N, C, L)."""

    cls_to_become, _spatial = Conv1d, 1


class LazyConv2d(_LazyConv, Conv2d):
    """``Conv2d`` with ``in_channels`` read from the first input (N, C, H, W)."""

    cls_to_become, _spatial = Conv2d, 2


class LazyConv3d(_LazyConv, Conv3d):
    """``Conv3d`` with ``in_channels`` read from the first input (N, C, D, H, W)."""

    cls_to_become, _spatial = Conv3d, 3


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """``ConvTranspose1d`` with ``in_channels`` read from the first input (N, C, L)."""

    cls_to_become, _spatial = ConvTranspose1d, 1


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """``ConvTranspose2d`` with ``in_channels`` read from the first input (N, C, H, W)."""

    cls_to_become, _spatial = ConvTranspose2d, 2


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """``ConvTranspose3d`` with ``in_channels`` read from the first input (N, C, D, H, W)."""

    cls_to_become, _spatial = ConvTranspose3d, 3


class _LazyNorm(_LazyMixin):
    _size_attr = "num_features"

    def __init__(self, eps: float = 1e-5, momentum=0.1, affine: bool = True, track_running_stats: bool = True,
                 device=None, dtype=None):
        kwargs = dict(eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                      device=device, dtype=dtype)
        self._lazy_init((), kwargs, 1)

    def _size_from_param(self, shape):
        return int(shape[0])


class _LazyBatchNorm(_LazyNorm):
    def _infer_size(self, x):
        label = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")
        allowed = (2, 3) if self._spatial == 1 else (self._spatial + 2,)
        if x.ndim not in allowed:
            raise ShapeError(f"{label}: expected a {' or '.join(f'{d}-D' for d in allowed)} input (N, C, ...), got "
                             f"shape {tuple(x.shape)}")
        return int(x.shape[1])


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``BatchNorm1d`` with ``num_features`` read from the first input (N, C) or (N, C, L)."""

    cls_to_become, _spatial = BatchNorm1d, 1


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``BatchNorm2d`` with ``num_features`` read from the first input (N, C, H, W)."""

    cls_to_become, _spatial = BatchNorm2d, 2


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """``BatchNorm3d`` with ``num_features`` read from the first input (N, C, D, H, W)."""

    cls_to_become, _spatial = BatchNorm3d, 3


class _LazyInstanceNorm(_LazyNorm):
    """As PyTorch's lazy instance norms, these default to ``affine=True, track_running_stats=True``
    (unlike ``InstanceNorm*d``: PyTorch shares the defaults of the lazy batch norms)."""


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """``InstanceNorm1d`` with ``num_features`` read from the first input (N, C, L) or (C, L)."""

    cls_to_become, _spatial = InstanceNorm1d, 1


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """``InstanceNorm2d`` with ``num_features`` read from the first input (N, C, H, W) or (C, H, W)."""

    cls_to_become, _spatial = InstanceNorm2d, 2


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """``InstanceNorm3d`` with ``num_features`` read from the first input (N, C, D, H, W) or (C, D, H, W)."""

    cls_to_become, _spatial = InstanceNorm3d, 3
