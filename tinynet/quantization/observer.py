"""Observers: modules that watch the values flowing through a model and choose the
quantization parameters ``(scale, zero_point)`` for them (PyTorch's
``torch.ao.quantization.observer``).

An observer is an identity layer: ``forward(x)`` records statistics of ``x`` and returns ``x``
unchanged. After some calibration batches, :meth:`calculate_qparams` turns the statistics into
the affine map between real numbers and integers ``q`` in ``[quant_min, quant_max]``::

    x ≈ (q − zero_point) · scale,      q = clamp(round(x / scale) + zero_point, quant_min, quant_max)

From an observed range ``[min_val, max_val]`` (first widened to contain 0, so that real 0 is
exactly representable -- zero padding and ReLU outputs must stay exact)::

    affine:     scale = (max − min) / (quant_max − quant_min)
                zero_point = clamp(quant_min − round(min / scale), quant_min, quant_max)
    symmetric:  scale = max(−min, max) / ((quant_max − quant_min) / 2)
                zero_point = 0 for qint8 (128 for quint8, the middle of 0..255)

with ``scale`` at least ``eps`` (float32's machine epsilon) so that a constant-zero tensor
does not give ``scale = 0``. The arithmetic is float32, as PyTorch's, so the results agree
with ``torch.ao.quantization`` bit for bit.

``reduce_range=True`` uses one bit less (0..127 for quint8, −64..63 for qint8): PyTorch's
x86 backend needs it to keep int16 intermediate sums of its vector instructions from
overflowing; tinynet's int8 kernels accumulate in int32 and do not, but the option is
kept for parity with PyTorch's configurations.

The observers:

* :class:`MinMaxObserver` -- running min and max over everything seen.
* :class:`MovingAverageMinMaxObserver` -- exponential moving averages of each batch's min and
  max, ``m ← m + c (batch_min − m)`` (``averaging_constant`` ``c = 0.01``): less sensitive
  to one outlier batch; the default for quantization-aware training.
* :class:`PerChannelMinMaxObserver` / :class:`MovingAveragePerChannelMinMaxObserver` -- one
  range per slice along ``ch_axis`` (weights: one per output channel).
* :class:`HistogramObserver` -- a histogram of all values seen; the range is then chosen to
  minimise the L2 quantization error (clipping rare outliers often costs less than the
  coarser steps a full range forces).
* :class:`PlaceholderObserver` -- records nothing; carries the dtype for dynamic quantization.

``Observer.with_args(**kw)`` returns a factory (PyTorch's): ``MinMaxObserver.with_args(
dtype=qint8)()`` builds an observer with those arguments; configurations (``QConfig``) hold
such factories, one observer is built per layer.
"""
from __future__ import annotations

import functools
import warnings

import numpy as _np

from ..backend import get_device
from ..backend.errors import ArgumentError, DTypeError
from ..nn.module import Module
from ..tensor.tensor import Tensor
from .qtensor import per_channel_affine, per_channel_symmetric, per_tensor_affine, per_tensor_symmetric, qint8, \
    qint32, quint8

__all__ = [
    "ObserverBase", "UniformQuantizationObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver", "HistogramObserver",
    "PlaceholderObserver", "default_observer", "default_weight_observer",
    "default_per_channel_weight_observer", "default_histogram_observer", "default_dynamic_quant_observer",
    "default_placeholder_observer", "calculate_qparams", "get_observer_state_dict", "load_observer_state_dict",
]

_EPS32 = float(_np.finfo(_np.float32).eps)


def _dtype_range(dtype):
    """``(min, max)`` of the integers a quantized dtype stores."""
    if dtype is quint8:
        return 0, 255
    if dtype is qint8:
        return -128, 127
    if dtype is qint32:
        return -(2 ** 31), 2 ** 31 - 1
    raise DTypeError(f"observer: dtype must be tn.quint8, tn.qint8 or tn.qint32, got {dtype!r}")


def _is_symmetric(qscheme):
    return qscheme in (per_tensor_symmetric, per_channel_symmetric)


def _is_per_channel(qscheme):
    return qscheme in (per_channel_affine, per_channel_symmetric)


class _PartialWrapper:
    """What ``with_args`` returns: calling it builds the class with the stored arguments (and any
    given now), like ``functools.partial``; its repr names them, for printing a QConfig."""

    def __init__(self, cls, **kwargs):
        self.p = functools.partial(cls, **kwargs)

    def __call__(self, *args, **kwargs):
        return self.p(*args, **kwargs)

    def with_args(self, **kwargs):
        merged = dict(self.p.keywords)
        merged.update(kwargs)
        return _PartialWrapper(self.p.func, **merged)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.p.keywords.items())
        return f"{self.p.func.__name__}.with_args({args})"


def _with_args(cls_or_self, **kwargs):
    return _PartialWrapper(cls_or_self, **kwargs)


def calculate_qparams(min_val, max_val, dtype=quint8, qscheme=per_tensor_affine, quant_min=None, quant_max=None,
                      reduce_range=False, eps=_EPS32, has_customized_qrange=None):
    """``(scale, zero_point)`` NumPy arrays (float32, int64) for the ranges ``[min_val, max_val]``
    (scalars or per-channel arrays), by the formulas of the module docstring, in float32 as
    PyTorch's ``_calculate_qparams``."""
    if quant_min is None or quant_max is None:
        quant_min, quant_max = _qrange(dtype, reduce_range, None, None)
        custom = False
    else:
        custom = True if has_customized_qrange is None else has_customized_qrange
    mn = _np.asarray(min_val, dtype=_np.float32)
    mx = _np.asarray(max_val, dtype=_np.float32)
    if mn.shape != mx.shape or _np.any(mn > mx):
        raise ArgumentError(f"calculate_qparams: min_val must be <= max_val elementwise, got min_val={mn}, "
                            f"max_val={mx}")
    f32 = _np.float32
    min_neg = _np.minimum(mn, f32(0))
    max_pos = _np.maximum(mx, f32(0))
    eps = f32(eps)
    zero_point = _np.zeros(mn.shape, dtype=_np.int64)
    if _is_symmetric(qscheme):
        max_pos = _np.maximum(-min_neg, max_pos)
        scale = (max_pos / f32(float(quant_max - quant_min) / 2)).astype(f32)
        scale = _np.maximum(scale, eps)
        if dtype is quint8:
            zero_point[...] = (quant_min + quant_max) // 2 if custom else 128
    else:
        scale = ((max_pos - min_neg) / f32(float(quant_max - quant_min))).astype(f32)
        scale = _np.maximum(scale, eps)
        zero_point = quant_min - _np.round(min_neg / scale).astype(_np.int64)
        zero_point = _np.clip(zero_point, quant_min, quant_max).astype(_np.int64)
    scale = _np.asarray(scale, dtype=f32)
    if scale.ndim == 0:   # PyTorch returns shape (1,) for a per-tensor range
        scale, zero_point = scale.reshape(1), _np.asarray(zero_point).reshape(1)
    return scale, zero_point


def _qrange(dtype, reduce_range, quant_min, quant_max):
    """PyTorch's ``calculate_qmin_qmax``: the user's range or the dtype's, halved (one bit less)
    with ``reduce_range`` -- the user's range too, as in PyTorch."""
    if quant_min is not None and quant_max is not None:
        lo, hi = int(quant_min), int(quant_max)
        return (lo // 2, hi // 2) if reduce_range else (lo, hi)
    lo, hi = _dtype_range(dtype)
    if dtype is qint32:
        return lo, hi
    if reduce_range:
        return (lo // 2, hi // 2) if dtype is qint8 else (0, 127)
    return lo, hi


def _resize_to_checkpoint(names):
    """A load-state-dict pre-hook resizing the buffers ``names`` to the checkpoint's shapes (as
    PyTorch's observers do): per-channel statistics start empty and learn their length from the
    data, so a fresh observer must take the saved length when it loads a calibrated state."""
    def hook(module, state_dict, prefix, *_):
        for name in names:
            value = state_dict.get(prefix + name)
            old = module._buffers.get(name)
            if old is None or value is None or not hasattr(value, "shape") or tuple(value.shape) == old.shape:
                continue
            module._buffers[name] = Tensor._make(old.device.xp.zeros(tuple(value.shape), dtype=old.array.dtype),
                                                 old.device)
    return hook


class ObserverBase(Module):
    """Base of every observer: holds ``dtype``; ``forward(x)`` records and returns ``x``."""

    with_args = classmethod(_with_args)

    def __init__(self, dtype=quint8, is_dynamic: bool = False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def calculate_qparams(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define calculate_qparams()")


class UniformQuantizationObserverBase(ObserverBase):
    """Observers of a uniform (affine or symmetric) quantization: checks the arguments, works out
    ``quant_min``/``quant_max``, and computes the qparams from ranges (:func:`calculate_qparams`).
    """

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False, quant_min=None, quant_max=None,
                 factory_kwargs=None, eps=_EPS32, is_dynamic=False, **kwargs):
        label = type(self).__name__
        if kwargs:
            raise TypeError(f"{label}: unexpected keyword arguments {sorted(kwargs)}")
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if dtype not in (quint8, qint8, qint32):
            raise DTypeError(f"{label}: dtype must be tn.quint8, tn.qint8 or tn.qint32 (the integer storage of the "
                             f"quantized tensor), got {dtype!r}")
        if qscheme not in (per_tensor_affine, per_tensor_symmetric, per_channel_affine, per_channel_symmetric):
            raise ArgumentError(f"{label}: qscheme must be tn.per_tensor_affine, tn.per_tensor_symmetric, "
                                f"tn.per_channel_affine or tn.per_channel_symmetric, got {qscheme!r}")
        if reduce_range and qscheme == per_tensor_symmetric and dtype is quint8:
            raise NotImplementedError(f"{label}: Cannot reduce range for symmetric quantization for quint8")
        self.qscheme = qscheme
        self.reduce_range = bool(reduce_range)
        self.eps = float(eps)
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            quant_min, quant_max = int(quant_min), int(quant_max)
            lo, hi = _dtype_range(dtype)
            if not quant_min <= 0 <= quant_max:
                raise ArgumentError(f"{label}: the quantization range must include 0 (real zero must be exactly "
                                    f"representable), got quant_min={quant_min}, quant_max={quant_max}")
            if quant_max - quant_min > hi - lo or quant_min < lo or quant_max > hi:
                raise ArgumentError(f"{label}: quant_min..quant_max = {quant_min}..{quant_max} does not fit "
                                    f"{dtype} ({lo}..{hi})")
        self.quant_min, self.quant_max = _qrange(dtype, self.reduce_range, quant_min, quant_max)

    def _calculate_qparams(self, min_val, max_val):
        scale, zp = calculate_qparams(min_val, max_val, self.dtype, self.qscheme, self.quant_min, self.quant_max,
                                      self.reduce_range, self.eps, self.has_customized_qrange)
        return scale, zp

    def _qparams_tensors(self, scale, zp):
        dev = self._stat_device()
        return Tensor._make(dev.from_host(scale), dev), Tensor._make(dev.from_host(zp), dev)

    def _stat_device(self):
        b = self._buffers.get("min_val")
        return b.device if b is not None else get_device("cpu")

    def _set_stat(self, name, host_array):
        """Replace a statistics buffer by ``host_array`` (float32), keeping the buffer's device."""
        dev = self._stat_device()
        self._buffers[name] = Tensor._make(dev.from_host(_np.asarray(host_array, dtype=_np.float32)), dev)

    def _host(self, name):
        b = self._buffers[name]
        return b.device.to_host(b.array)

    def _check_input(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise DTypeError(f"{type(self).__name__}: observes floating tensors, got {x.dtype}")

    def has_observed(self) -> bool:
        """True once ``forward`` has seen at least one value."""
        mn = self._host("min_val")
        return mn.size > 0 and bool(_np.all(_np.isfinite(mn)))

    def _check_observed(self):
        if not self.has_observed():
            raise RuntimeError(
                f"{type(self).__name__}: no data observed, so there is no range to compute scale and zero_point "
                "from: calibrate first: run forward passes after prepare")

    def extra_repr(self):
        mn, mx = self._host("min_val"), self._host("max_val")
        fmt = (lambda a: f"{float(a):g}") if mn.ndim == 0 else (lambda a: _np.array2string(a, precision=4))
        return f"min_val={fmt(mn)}, max_val={fmt(mx)}"


class MinMaxObserver(UniformQuantizationObserverBase):
    """Per-tensor qparams from the running min and max of everything observed (see the module
    docstring). Buffers ``min_val``/``max_val`` (±inf before any data)."""

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False, quant_min=None, quant_max=None,
                 factory_kwargs=None, eps=_EPS32, is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic, **kwargs)
        if _is_per_channel(qscheme):
            raise NotImplementedError(f"{type(self).__name__}: per-channel qschemes need PerChannelMinMaxObserver")
        cpu = get_device("cpu")
        self.register_buffer("min_val", Tensor._make(_np.array(_np.inf, dtype=_np.float32), cpu))
        self.register_buffer("max_val", Tensor._make(_np.array(-_np.inf, dtype=_np.float32), cpu))

    def _batch_minmax(self, x):
        a = x.array
        if a.size == 0:
            return None
        return _np.float32(float(a.min())), _np.float32(float(a.max()))

    def forward(self, x):
        self._check_input(x)
        got = self._batch_minmax(x)
        if got is None:
            return x
        bmin, bmax = got
        self._set_stat("min_val", _np.minimum(self._host("min_val"), bmin))
        self._set_stat("max_val", _np.maximum(self._host("max_val"), bmax))
        return x

    def calculate_qparams(self):
        """``(scale, zero_point)`` Tensors of shape (1,) (float32, int64)."""
        self._check_observed()
        return self._qparams_tensors(*self._calculate_qparams(self._host("min_val"), self._host("max_val")))

    def reset_min_max_vals(self):
        """Forget everything observed."""
        self._set_stat("min_val", _np.array(_np.inf))
        self._set_stat("max_val", _np.array(-_np.inf))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Per-tensor qparams from exponential moving averages of each batch's min and max:
    ``min ← min + c · (batch_min − min)`` (the first batch sets them), ``c = averaging_constant``."""

    def __init__(self, averaging_constant=0.01, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, eps=_EPS32, is_dynamic=False, **kwargs):
        if not 0.0 < float(averaging_constant) <= 1.0:
            raise ArgumentError(f"MovingAverageMinMaxObserver: averaging_constant must be in (0, 1], got "
                                f"{averaging_constant}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = float(averaging_constant)

    def forward(self, x):
        self._check_input(x)
        got = self._batch_minmax(x)
        if got is None:
            return x
        bmin, bmax = got
        mn, mx = self._host("min_val"), self._host("max_val")
        if _np.isinf(mn) and _np.isinf(mx) and mn > mx:
            mn, mx = bmin, bmax
        else:
            c = _np.float32(self.averaging_constant)
            mn = mn + c * (bmin - mn)
            mx = mx + c * (bmax - mx)
        self._set_stat("min_val", mn)
        self._set_stat("max_val", mx)
        return x


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """One range per slice along ``ch_axis`` (weights of a Linear/Conv2d: axis 0, one per output
    channel): running elementwise min/max of the per-channel minima and maxima. Finer than one
    range per tensor when channels differ in size, which weights' channels usually do."""

    def __init__(self, ch_axis=0, dtype=quint8, qscheme=per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS32, is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic, **kwargs)
        if not _is_per_channel(qscheme):
            raise NotImplementedError(f"{type(self).__name__}: qscheme must be per_channel_affine or "
                                      f"per_channel_symmetric, got {qscheme!r} (use MinMaxObserver per tensor)")
        self.ch_axis = int(ch_axis)
        cpu = get_device("cpu")
        self.register_buffer("min_val", Tensor._make(_np.zeros(0, dtype=_np.float32), cpu))
        self.register_buffer("max_val", Tensor._make(_np.zeros(0, dtype=_np.float32), cpu))
        self.register_load_state_dict_pre_hook(_resize_to_checkpoint(("min_val", "max_val")))

    def _channel_minmax(self, x):
        a = x.array
        nd = a.ndim
        if nd == 0 or not -nd <= self.ch_axis < nd:
            raise ArgumentError(f"{type(self).__name__}: ch_axis={self.ch_axis} is out of range for an input of "
                                f"shape {tuple(x.shape)}")
        axis = self.ch_axis % nd
        if a.size == 0:
            return None
        xp = x.device.xp
        moved = xp.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        return (_np.asarray(x.device.to_host(moved.min(axis=1)), dtype=_np.float32),
                _np.asarray(x.device.to_host(moved.max(axis=1)), dtype=_np.float32))

    def _update(self, bmin, bmax):
        mn, mx = self._host("min_val"), self._host("max_val")
        if mn.size == 0:
            return bmin, bmax
        if mn.shape != bmin.shape:
            raise ArgumentError(f"{type(self).__name__}: saw {mn.shape[0]} channels before and {bmin.shape[0]} now "
                                f"along ch_axis={self.ch_axis}")
        return _np.minimum(mn, bmin), _np.maximum(mx, bmax)

    def forward(self, x):
        self._check_input(x)
        got = self._channel_minmax(x)
        if got is None:
            return x
        mn, mx = self._update(*got)
        self._set_stat("min_val", mn)
        self._set_stat("max_val", mx)
        return x

    def calculate_qparams(self):
        """``(scales, zero_points)`` Tensors of shape (channels,) (float32, int64)."""
        self._check_observed()
        return self._qparams_tensors(*self._calculate_qparams(self._host("min_val"), self._host("max_val")))

    def reset_min_max_vals(self):
        self._set_stat("min_val", _np.zeros(0))
        self._set_stat("max_val", _np.zeros(0))


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel moving averages of the minima and maxima (``averaging_constant``, see
    :class:`MovingAverageMinMaxObserver`)."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=quint8, qscheme=per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS32, is_dynamic=False, **kwargs):
        if not 0.0 < float(averaging_constant) <= 1.0:
            raise ArgumentError(f"MovingAveragePerChannelMinMaxObserver: averaging_constant must be in (0, 1], got "
                                f"{averaging_constant}")
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = float(averaging_constant)

    def _update(self, bmin, bmax):
        mn, mx = self._host("min_val"), self._host("max_val")
        if mn.size == 0:
            return bmin, bmax
        if mn.shape != bmin.shape:
            raise ArgumentError(f"{type(self).__name__}: saw {mn.shape[0]} channels before and {bmin.shape[0]} now "
                                f"along ch_axis={self.ch_axis}")
        c = _np.float32(self.averaging_constant)
        return mn + c * (bmin - mn), mx + c * (bmax - mx)


class HistogramObserver(UniformQuantizationObserverBase):
    """Per-tensor qparams from a histogram of everything observed, choosing the range that
    minimises the L2 quantization error (PyTorch's algorithm, after Caffe2's norm minimisation).

    **Histogram.** ``bins`` equal bins over ``[min_val, max_val]`` of all data so far. A batch
    that widens the range is binned over the new range, and the old histogram is re-binned onto
    it: each old bin is split into ``upsample_rate = 16`` equal parts (the counts spread
    uniformly), and each part's count goes to the new bin its midpoint falls in.

    **Range search.** Let ``cdf`` be the cumulative counts. Starting from the full range, move
    in the lower or the upper end (whichever drops more bins for the next 1e-5 of probability
    mass: ``alpha`` from below, ``beta`` from above) and compute the expected squared error of
    quantizing the histogram onto ``2^bits`` equal levels over the candidate range (values inside
    a level: the variance of a uniform spread around its centre; clipped values: their distance
    to the nearest end, ``∫ density · δ² dδ = density · (end³ − begin³) / 3`` per piece). Stop
    when the error starts to grow; the last range is used with the MinMax formulas.
    """

    def __init__(self, bins: int = 2048, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS32, is_dynamic=False, **kwargs):
        if _is_per_channel(qscheme):
            raise NotImplementedError("HistogramObserver's qscheme only support torch.per_tensor_symmetric "
                                      "and torch.per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic, **kwargs)
        if int(bins) != bins or bins < 1:
            raise ArgumentError(f"HistogramObserver: bins must be a positive integer, got {bins}")
        self.bins = int(bins)
        cpu = get_device("cpu")
        self.register_buffer("histogram", Tensor._make(_np.zeros(self.bins, dtype=_np.float32), cpu))
        self.register_buffer("min_val", Tensor._make(_np.array(_np.inf, dtype=_np.float32), cpu))
        self.register_buffer("max_val", Tensor._make(_np.array(-_np.inf, dtype=_np.float32), cpu))
        self.dst_nbins = 2 ** (8 if dtype in (quint8, qint8) else 32)
        self.upsample_rate = 16

    @staticmethod
    def _histc(x, bins, lo, hi):
        """``torch.histc``: ``bins`` equal bins over ``[lo, hi]``, values outside ignored, the last
        bin closed; ``lo == hi`` widens to ``[lo − 1, hi + 1]``."""
        lo, hi = float(lo), float(hi)
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
        x = x[(x >= lo) & (x <= hi)].astype(_np.float64)
        idx = ((x - lo) * bins / (hi - lo)).astype(_np.int64)
        idx = _np.clip(idx, 0, bins - 1)
        return _np.bincount(idx, minlength=bins).astype(_np.float32)

    def _get_norm(self, delta_begin, delta_end, density):
        return density * (delta_end ** 3 - delta_begin ** 3) / 3

    def _compute_quantization_error(self, hist, min_val, max_val, next_start_bin, next_end_bin):
        bin_width = (max_val - min_val) / self.bins
        dst_bin_width = bin_width * (next_end_bin - next_start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        src_bin = _np.arange(self.bins, dtype=_np.float64)
        src_bin_begin = (src_bin - next_start_bin) * bin_width
        src_bin_end = src_bin_begin + bin_width
        dst_bin_of_begin = _np.clip(_np.floor(src_bin_begin / dst_bin_width), 0, self.dst_nbins - 1)
        dst_bin_of_begin_center = (dst_bin_of_begin + 0.5) * dst_bin_width
        dst_bin_of_end = _np.clip(_np.floor(src_bin_end / dst_bin_width), 0, self.dst_nbins - 1)
        density = hist / bin_width
        norm = self._get_norm(src_bin_begin - dst_bin_of_begin_center, dst_bin_width / 2, density)
        norm = norm + (dst_bin_of_end - dst_bin_of_begin - 1) * self._get_norm(-dst_bin_width / 2,
                                                                              dst_bin_width / 2, density)
        dst_bin_of_end_center = dst_bin_of_end * dst_bin_width + dst_bin_width / 2
        norm = norm + self._get_norm(-dst_bin_width / 2, src_bin_end - dst_bin_of_end_center, density)
        return float(norm.sum())

    def _non_linear_param_search(self):
        hist = self._host("histogram").astype(_np.float64)
        min_val, max_val = float(self._host("min_val")), float(self._host("max_val"))
        total = float(hist.sum())
        csum = _np.cumsum(hist)
        stepsize = 1e-5
        alpha, beta = 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta:
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            left, right = start_bin, end_bin
            while left < end_bin and csum[left] < next_alpha * total:
                left += 1
            while right > start_bin and csum[right] > next_beta * total:
                right -= 1
            next_start_bin, next_end_bin = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start_bin = left
                alpha = next_alpha
            else:
                next_end_bin = right
                beta = next_beta
            if next_start_bin == start_bin and next_end_bin == end_bin:
                continue
            norm = self._compute_quantization_error(hist, min_val, max_val, next_start_bin, next_end_bin)
            if norm > norm_min:
                break
            norm_min = norm
            start_bin, end_bin = next_start_bin, next_end_bin
        f32 = _np.float32
        bw = (f32(max_val) - f32(min_val)) / f32(self.bins)
        return f32(min_val) + bw * f32(start_bin), f32(min_val) + bw * f32(end_bin + 1)

    def _upscale_histogram(self, histogram, orig_min, orig_max, update_min, update_max):
        r = self.upsample_rate
        histogram = _np.repeat(histogram.astype(_np.float64), r) / r
        bin_size = (orig_max - orig_min) / (self.bins * r)
        mid = _np.linspace(orig_min, orig_max, self.bins * r + 1)[:-1] + 0.5 * bin_size
        bounds = _np.linspace(update_min, update_max, self.bins + 1)
        bucket = _np.searchsorted(bounds, mid, side="right") - 1
        bucket = _np.clip(bucket, 0, self.bins - 1)
        return _np.bincount(bucket, weights=histogram, minlength=self.bins).astype(_np.float32)

    def forward(self, x):
        self._check_input(x)
        a = _np.asarray(x.device.to_host(x.array), dtype=_np.float32).ravel()
        if a.size == 0:
            return x
        if not _np.all(_np.isfinite(a)):
            if _np.isnan(a).any():
                raise ValueError("HistogramObserver: the input holds NaN; it has no range to observe")
            warnings.warn("HistogramObserver: inf detected in the input, ignoring those values", stacklevel=2)
            a = a[_np.isfinite(a)]
            if a.size == 0:
                return x
        x_min, x_max = _np.float32(a.min()), _np.float32(a.max())
        cur_min, cur_max = _np.float32(self._host("min_val")), _np.float32(self._host("max_val"))
        if cur_min == _np.inf or cur_max == -_np.inf:
            self._set_stat("min_val", x_min)
            self._set_stat("max_val", x_max)
            self._set_stat("histogram", self._histc(a, self.bins, x_min, x_max))
            return x
        new_min, new_max = min(cur_min, x_min), max(cur_max, x_max)
        update = self._histc(a, self.bins, new_min, new_max)
        hist = self._host("histogram")
        if new_min == cur_min and new_max == cur_max:
            combined = hist + update
        elif cur_min == cur_max:
            combined = self._histc(_np.array([cur_min], _np.float32), self.bins, new_min, new_max) * hist.sum() + update
        else:
            combined = update + self._upscale_histogram(hist, float(cur_min), float(cur_max), float(new_min),
                                                        float(new_max))
        self._set_stat("histogram", combined)
        self._set_stat("min_val", new_min)
        self._set_stat("max_val", new_max)
        return x

    def calculate_qparams(self):
        """``(scale, zero_point)`` Tensors of shape (1,) from the L2-optimal range."""
        self._check_observed()
        new_min, new_max = self._non_linear_param_search()
        return self._qparams_tensors(*self._calculate_qparams(new_min, new_max))


class PlaceholderObserver(ObserverBase):
    """Observes nothing: it only carries ``dtype`` (and ``quant_min``/``quant_max``, ``is_dynamic``)
    for layers quantized at run time (dynamic quantization computes the input's range per call)."""

    def __init__(self, dtype=quint8, custom_op_name: str = "", compute_dtype=None, quant_min=None, quant_max=None,
                 qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        self.qscheme = per_tensor_affine if qscheme is None else qscheme
        self.quant_min, self.quant_max = quant_min, quant_max
        self.eps = eps
        self.custom_op_name = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for PlaceholderObserver")


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_weight_observer = MinMaxObserver.with_args(dtype=qint8, qscheme=per_tensor_symmetric)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(dtype=qint8, qscheme=per_channel_symmetric)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_dynamic_quant_observer = PlaceholderObserver.with_args(dtype=quint8, quant_min=0, quant_max=255,
                                                               is_dynamic=True)
default_placeholder_observer = PlaceholderObserver


def get_observer_state_dict(mod):
    """The entries of ``mod.state_dict()`` that belong to observers and fake quantizers."""
    return {k: v for k, v in mod.state_dict().items() if "activation_post_process" in k or "weight_fake_quant" in k}


def load_observer_state_dict(mod, obs_dict):
    """Load what :func:`get_observer_state_dict` saved into ``mod`` (observer buffers are resized
    to the saved shapes first, since per-channel observers start empty)."""
    targets = dict(mod.named_modules())
    for key, value in obs_dict.items():
        mod_name, _, buf = key.rpartition(".")
        m = targets.get(mod_name)
        if m is None or buf not in m._buffers:
            raise RuntimeError(f"load_observer_state_dict: {key!r} is not an observer buffer of "
                               f"{type(mod).__name__}")
        old = m._buffers[buf]
        arr = value.device.to_host(value.array) if isinstance(value, Tensor) else _np.asarray(value)
        m._buffers[buf] = Tensor._make(old.device.from_host(_np.array(arr, dtype=old.array.dtype)), old.device)
