"""Fake quantization: quantize then dequantize in float, so a model *trains* with the rounding
and clamping it will meet after conversion to int8 (quantization-aware training, QAT).

For a per-tensor ``(scale s, zero point z)`` and integer range ``[qmin, qmax]``::

    q   = round_half_even(x · (1/s)) + z
    out = (clamp(q, qmin, qmax) − z) · s

``out`` takes only the ``qmax − qmin + 1`` values the int8 model can represent. Its true
derivative is 0 almost everywhere (a staircase), which would stop training; the
*straight-through estimator* (Bengio et al., 2013) passes the gradient through unchanged
where the value was representable and blocks it where it was clamped::

    ∂out/∂x = 1 if qmin ≤ q ≤ qmax else 0

(PyTorch's ``fake_quantize_per_tensor_affine``; per channel, ``s`` and ``z`` vary along
``axis``.) Computing ``x · (1/s)`` with ``1/s`` rounded to the input's float type first, as
PyTorch's kernel does, makes the results agree with PyTorch bit for bit.

:class:`FakeQuantize` is the module: an observer (by default a moving-average min/max)
watches the values, its qparams are refreshed on every training step, and the input is
fake-quantized with them. ``enable_observer``/``disable_observer`` freeze the qparams (often
done for the last epochs of QAT), ``enable_fake_quant``/``disable_fake_quant`` switch the
rounding itself.
"""
from __future__ import annotations

import numpy as _np

from ..autograd.function import Function
from ..backend import get_device
from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..nn.module import Module
from ..tensor.tensor import Tensor
from .observer import MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, _dtype_range, \
    _is_per_channel, _is_symmetric, _resize_to_checkpoint, _with_args
from .qtensor import per_channel_symmetric, per_tensor_affine, per_tensor_symmetric, qint8, quint8

__all__ = [
    "fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine", "FakeQuantizeBase", "FakeQuantize",
    "default_fake_quant", "default_weight_fake_quant", "default_per_channel_weight_fake_quant",
    "default_dynamic_fake_quant", "disable_fake_quant", "enable_fake_quant", "disable_observer", "enable_observer",
]


def _host_array(v, what, fn):
    if isinstance(v, Tensor):
        return v.device.to_host(v.array)
    try:
        return _np.asarray(v)
    except Exception:  # pragma: no cover - defensive
        raise TypeError(f"{fn}: {what} must be a number or a Tensor, got {type(v).__name__}") from None


def _check_common(x, quant_min, quant_max, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise DTypeError(f"{fn}: input must be floating point (float16/32/64), got {x.dtype}")
    if int(quant_min) != quant_min or int(quant_max) != quant_max:
        raise ArgumentError(f"{fn}: quant_min and quant_max must be integers, got {quant_min}, {quant_max}")
    if quant_min > quant_max:
        raise ArgumentError(f"{fn}: `quant_min` should be less than or equal to `quant_max`, got "
                            f"quant_min={quant_min}, quant_max={quant_max}")


class _FakeQuantizeFn(Function):
    """Quantize-dequantize with the straight-through gradient (see the module docstring).
    ``scale``/``zero_point`` are host arrays already shaped to broadcast against ``x``."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max):
        dev = x.device
        xp = dev.xp
        a = x.array
        compute = a.dtype if a.dtype != _np.float16 else _np.float32
        s = dev.from_host(scale.astype(_np.float32).astype(compute))
        inv = dev.from_host((_np.float32(1.0) / scale.astype(_np.float32)).astype(compute))
        z = dev.from_host(zero_point.astype(compute))
        q = xp.rint(a.astype(compute, copy=False) * inv) + z
        keep = (q >= quant_min) & (q <= quant_max)
        out = ((xp.clip(q, quant_min, quant_max) - z) * s).astype(a.dtype, copy=False)
        mask = Tensor._make(keep.astype(a.dtype), dev)
        ctx.save_for_backward(mask)
        return Tensor._make(out, dev)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None, None, None, None


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Fake-quantize ``input`` with one ``scale``/``zero_point`` (numbers or one-element
    Tensors) to integers in ``[quant_min, quant_max]``: ``(clamp(round(x/s) + z) − z) · s``, with
    the straight-through gradient (1 where ``round(x/s) + z`` is inside the range, else 0)."""
    fn = "fake_quantize_per_tensor_affine"
    _check_common(input, quant_min, quant_max, fn)
    s = _host_array(scale, "scale", fn).astype(_np.float64)
    z = _host_array(zero_point, "zero_point", fn)
    if s.size != 1 or z.size != 1:
        raise ShapeError(f"{fn}: scale and zero_point must be single values, got shapes {s.shape} and {z.shape} "
                         "(use fake_quantize_per_channel_affine for one per channel)")
    s, z = s.reshape(()), _np.round(z.astype(_np.float64)).reshape(())
    if not s > 0 or not _np.isfinite(s):
        raise ArgumentError(f"{fn}: scale must be a positive finite number, got {float(s)}")
    if not quant_min <= z <= quant_max:
        raise ArgumentError(f"{fn}: `zero_point` must be between `quant_min` and `quant_max`, got zero_point="
                            f"{int(z)}, range {quant_min}..{quant_max}")
    return _FakeQuantizeFn.apply(input, s, z, int(quant_min), int(quant_max))


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Fake-quantize ``input`` with one ``scale[c]``/``zero_point[c]`` per index ``c`` along
    ``axis`` (1-D Tensors of ``input.shape[axis]`` values); otherwise as
    :func:`fake_quantize_per_tensor_affine`."""
    fn = "fake_quantize_per_channel_affine"
    _check_common(input, quant_min, quant_max, fn)
    s = _host_array(scale, "scale", fn).astype(_np.float64)
    z = _np.round(_host_array(zero_point, "zero_point", fn).astype(_np.float64))
    nd = input.ndim
    if not isinstance(axis, (int, _np.integer)) or not -nd <= axis < nd:
        raise ArgumentError(f"{fn}: axis must be an int in [{-nd}, {nd - 1}] for an input of shape "
                            f"{tuple(input.shape)}, got {axis!r}")
    axis = int(axis) % nd
    c = input.shape[axis]
    if s.ndim != 1 or z.ndim != 1 or s.shape[0] != c or z.shape[0] != c:
        raise ShapeError(f"{fn}: scale and zero_point must be 1-D with {c} values (input.shape[{axis}]), got "
                         f"shapes {s.shape} and {z.shape}")
    if not (_np.all(s > 0) and _np.all(_np.isfinite(s))):
        raise ArgumentError(f"{fn}: every scale must be positive and finite, got {s}")
    if _np.any(z < quant_min) or _np.any(z > quant_max):
        raise ArgumentError(f"{fn}: `zero_point` must be between `quant_min` and `quant_max` ({quant_min}.."
                            f"{quant_max}), got {z.astype(_np.int64)}")
    shape = [1] * nd
    shape[axis] = c
    return _FakeQuantizeFn.apply(input, s.reshape(shape), z.reshape(shape), int(quant_min), int(quant_max))


class FakeQuantizeBase(Module):
    """Base of the fake-quantize modules: the on/off switches (uint8 buffers, saved in the state
    dict as PyTorch's) and :meth:`with_args`."""

    with_args = classmethod(_with_args)

    def __init__(self):
        super().__init__()
        cpu = get_device("cpu")
        self.register_buffer("fake_quant_enabled", Tensor._make(_np.array([1], dtype=_np.uint8), cpu))
        self.register_buffer("observer_enabled", Tensor._make(_np.array([1], dtype=_np.uint8), cpu))

    def _switch(self, name, enabled):
        buf = self._buffers[name]
        buf.array[...] = 1 if enabled else 0
        buf._bump()
        return self

    def enable_fake_quant(self, enabled: bool = True):
        return self._switch("fake_quant_enabled", enabled)

    def disable_fake_quant(self):
        return self.enable_fake_quant(False)

    def enable_observer(self, enabled: bool = True):
        return self._switch("observer_enabled", enabled)

    def disable_observer(self):
        return self.enable_observer(False)

    def _on(self, name):
        buf = self._buffers[name]
        return bool(buf.device.to_host(buf.array)[0])


class FakeQuantize(FakeQuantizeBase):
    """Observe and fake-quantize (see the module docstring).

    Args:
        observer: the observer class or ``with_args`` factory (default
            :class:`MovingAverageMinMaxObserver`), built with ``observer_kwargs`` (``dtype``,
            ``qscheme``, ``reduce_range``, ``ch_axis`` ...).
        quant_min, quant_max: the integer range (default: the observer's, from its dtype).

    ``forward(x)``: when the observer is enabled, observe ``x`` and copy the fresh qparams into
    the ``scale``/``zero_point`` buffers; when fake quantization is enabled, return
    ``fake_quantize_per_tensor_affine(x, ...)`` (per channel along ``ch_axis`` for a
    per-channel qscheme), else ``x``.
    """

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, is_dynamic=False,
                 **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise ArgumentError(f"FakeQuantize: quant_min must be less than or equal to quant_max, got "
                                    f"{quant_min} > {quant_max}")
            dtype = observer_kwargs.get("dtype", quint8)
            if hasattr(observer, "p"):
                dtype = observer.p.keywords.get("dtype", dtype)
            lo, hi = _dtype_range(dtype)
            if quant_min < lo or quant_max > hi:
                raise ArgumentError(f"FakeQuantize: quant_min..quant_max = {quant_min}..{quant_max} is outside "
                                    f"{dtype}'s range {lo}..{hi}")
            observer_kwargs.update({"quant_min": quant_min, "quant_max": quant_max})
        observer_kwargs["is_dynamic"] = is_dynamic
        self.activation_post_process = observer(**observer_kwargs)
        app = self.activation_post_process
        self.quant_min, self.quant_max = app.quant_min, app.quant_max
        self.is_dynamic = app.is_dynamic
        self.dtype = app.dtype
        self.qscheme = app.qscheme
        self.ch_axis = getattr(app, "ch_axis", -1)
        self.is_per_channel = _is_per_channel(self.qscheme)
        self.is_symmetric_quant = _is_symmetric(self.qscheme)
        cpu = app._stat_device()
        self.register_buffer("scale", Tensor._make(_np.array([1.0], dtype=_np.float32), cpu))
        self.register_buffer("zero_point", Tensor._make(_np.array([0], dtype=_np.int32), cpu))
        # per channel, scale/zero_point take the number of channels at the first forward
        self.register_load_state_dict_pre_hook(_resize_to_checkpoint(("scale", "zero_point")))

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, X):
        if self._on("observer_enabled"):
            self.activation_post_process(X.detach())
            scale, zp = self.calculate_qparams()
            dev = self._buffers["scale"].device
            self._buffers["scale"] = Tensor._make(dev.from_host(scale.device.to_host(scale.array)), dev)
            self._buffers["zero_point"] = Tensor._make(
                dev.from_host(zp.device.to_host(zp.array).astype(_np.int32)), dev)
        if self._on("fake_quant_enabled"):
            if self.is_per_channel:
                X = fake_quantize_per_channel_affine(X, self.scale, self.zero_point, self.ch_axis, self.quant_min,
                                                     self.quant_max)
            else:
                X = fake_quantize_per_tensor_affine(X, self.scale, self.zero_point, self.quant_min, self.quant_max)
        return X

    def extra_repr(self):
        s = self.scale.device.to_host(self.scale.array)
        z = self.zero_point.device.to_host(self.zero_point.array)
        return (f"fake_quant_enabled={int(self._on('fake_quant_enabled'))}, "
                f"observer_enabled={int(self._on('observer_enabled'))}, quant_min={self.quant_min}, "
                f"quant_max={self.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, ch_axis={self.ch_axis}, "
                f"scale={s}, zero_point={z}")


default_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                            dtype=quint8, qscheme=per_tensor_affine, reduce_range=True)
default_weight_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128,
                                                   quant_max=127, dtype=qint8, qscheme=per_tensor_symmetric,
                                                   reduce_range=False)
default_per_channel_weight_fake_quant = FakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=qint8,
    qscheme=per_channel_symmetric, reduce_range=False, ch_axis=0)
default_dynamic_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                    quant_max=255, dtype=quint8, averaging_constant=1)


def disable_fake_quant(mod):
    """For ``model.apply(disable_fake_quant)``: switch fake quantization off in FakeQuantize modules."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_fake_quant()


def enable_fake_quant(mod):
    """For ``model.apply(enable_fake_quant)``."""
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_fake_quant()


def disable_observer(mod):
    """For ``model.apply(disable_observer)``: freeze the qparams of FakeQuantize modules."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_observer()


def enable_observer(mod):
    """For ``model.apply(enable_observer)``."""
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_observer()
