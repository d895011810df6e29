"""Quantized layers for inference (PyTorch's ``torch.ao.nn.quantized``): int8 weights, quint8
activations, the matrix products on the int8 kernels of ``tinynet.quantization.functional``.

:func:`~tinynet.quantization.convert` builds them from prepared float layers with
``from_float``: the weight is quantized with its qconfig's weight observer (per tensor or per
output channel, symmetric: zero point 0) and the output ``scale``/``zero_point`` come from the
activation observer that watched the float layer's outputs during calibration.

State (what ``state_dict`` saves; all buffers, a quantized layer has no trainable parameters):

================ ====================================================================
``qweight``      the int8 weight, the float weight's shape
``weight_scale`` float32: one value (per tensor) or one per output channel
``float_bias``   float32 bias (absent when the layer has none)
``scale``        float64 0-d: the output's scale
``zero_point``   int64 0-d: the output's zero point
================ ====================================================================

so a checkpoint holds one byte per weight plus a few scales -- about 4x smaller than float32.
The weights are symmetric, so their zero point is 0 by construction (the int8 kernels take
symmetric weights) and is not stored; ``weight().q_per_channel_zero_points()`` gives the
zeros. The weight scales are float32, the precision the observers compute them in (and
the precision of the requantization multipliers of PyTorch's x86 kernels); a float64
scale given to :meth:`set_weight_bias` is rounded to float32 when stored.
As in PyTorch, ``layer.weight()`` returns the weight as a :class:`QTensor` and
``layer.bias()`` the float bias.

Layers between quantized ones that need no arithmetic of their own work on the integers
directly, keeping the input's scale and zero point: :class:`ReLU` (``max(q, zero_point)``,
since real 0 is ``zero_point``), :class:`MaxPool2d` (the maximum commutes with the increasing
affine map), :class:`Flatten` and :class:`Dropout` (identity at inference). Each also takes
a float Tensor and then behaves as its float layer.
"""
from __future__ import annotations

import math as _math

import numpy as _np

from ... import functional as F
from ...backend import get_device
from ...backend.errors import ArgumentError, DTypeError
from ...nn.activation import ReLU as _FloatReLU
from ...nn.module import Module
from ...tensor.tensor import Tensor
from .. import functional as qF
from ...functional.conv import conv_geometry
from ..qtensor import QTensor, _check_scale, _check_zero_point, _inv_scale, per_channel_affine, per_channel_symmetric, \
    per_tensor_affine, per_tensor_symmetric, qint8, quantize_per_channel, quantize_per_tensor, quint8
from . import intrinsic as nni

__all__ = ["Quantize", "DeQuantize", "Linear", "LinearReLU", "Conv2d", "ConvReLU2d", "ReLU", "MaxPool2d",
           "Flatten", "Dropout", "quantize_weight", "activation_qparams"]


_F32 = _np.dtype(_np.float32)


def _host(t):
    return t.device.to_host(t.array)


def activation_qparams(mod, label):
    """``(scale, zero_point)`` as Python numbers from ``mod.activation_post_process`` (the observer
    or FakeQuantize that watched the layer's outputs); a clear error when there is none or it
    saw no data."""
    obs = getattr(mod, "activation_post_process", None)
    if obs is None:
        raise RuntimeError(f"convert: {label} has no activation observer: run tinynet.quantization.prepare "
                           "(or prepare_qat) on the model and calibrate it before convert")
    if hasattr(obs, "has_observed") and not obs.has_observed():
        raise RuntimeError(f"convert: the observer of {label} saw no data: calibrate first: run forward passes "
                           "after prepare")
    inner = getattr(obs, "activation_post_process", None)
    if inner is not None and hasattr(inner, "has_observed") and not inner.has_observed():
        raise RuntimeError(f"convert: the fake-quantize observer of {label} saw no data: calibrate first: run "
                           "forward passes after prepare_qat")
    scale, zp = obs.calculate_qparams()
    return float(_host(scale).reshape(-1)[0]), int(_host(zp).reshape(-1)[0])


def quantize_weight(weight, observer, label):
    """The float ``weight`` as a qint8 QTensor with the qparams ``observer`` computed (the observer
    must already have seen the weight). Per-channel observers give per-channel weights along
    ``ch_axis`` (0: output channels). The int8 kernels need symmetric weights (zero point 0)."""
    scale, zp = observer.calculate_qparams()
    scale, zp = _host(scale).astype(_np.float64), _host(zp).astype(_np.int64)
    if getattr(observer, "dtype", qint8) is not qint8:
        raise DTypeError(f"convert: {label}: weights are quantized to qint8, but the weight observer's dtype is "
                         f"{observer.dtype}; use a qint8 weight observer (default_weight_observer)")
    if _np.any(zp != 0):
        raise ArgumentError(f"convert: {label}: the weight's zero point must be 0 (symmetric quantization: the int8 "
                            f"kernels take symmetric weights), got {zp}; use qscheme=per_tensor_symmetric or "
                            "per_channel_symmetric in the weight observer")
    if getattr(observer, "qscheme", None) in (per_channel_affine, per_channel_symmetric):
        axis = observer.ch_axis
        if axis != 0:
            raise ArgumentError(f"convert: {label}: per-channel weights must be quantized along axis 0 (output "
                                f"channels), got ch_axis={axis}")
        return quantize_per_channel(weight.detach().float(), scale, zp, 0, qint8, qscheme=per_channel_symmetric)
    return quantize_per_tensor(weight.detach().float(), float(scale.reshape(-1)[0]), 0, qint8,
                               qscheme=per_tensor_symmetric)


def _weight_post_process(mod, float_mod, label):
    """The observer (or FakeQuantize) that gives the weight's qparams: a QAT layer's own
    ``weight_fake_quant``, else a fresh ``qconfig.weight()`` that observes the weight now."""
    fq = getattr(mod, "weight_fake_quant", None)
    if fq is not None:
        return fq
    qconfig = getattr(mod, "qconfig", None)
    if qconfig is None:
        raise RuntimeError(f"convert: {label} has no qconfig: set model.qconfig before prepare")
    obs = qconfig.weight()
    obs(float_mod.weight.detach())
    return obs


class _Plan:
    """What :meth:`_QuantizedWeightLayer._prepared` caches: a layer's kernel operands (see there)."""

    __slots__ = ("qw", "ws", "fb", "sc", "zp", "version", "x_scale", "device", "kernel", "w2d", "sums", "mult", "bias",
                 "relu", "scale", "zero_point", "o", "k", "geometry")

    def __init__(self, buffers, version, x_scale, device, kernel, w2d, sums, mult, bias, relu, scale, zero_point, o, k):
        self.qw, self.ws, self.fb, self.sc, self.zp = buffers  # the buffers it was computed from
        self.version, self.x_scale, self.device, self.kernel = version, x_scale, device, kernel
        self.w2d, self.sums, self.mult, self.bias, self.relu = w2d, sums, mult, bias, relu
        self.scale, self.zero_point, self.o, self.k = scale, zero_point, o, k
        self.geometry = {}  # (H, W) -> the convolution's geometry for that input size


class _QuantizedWeightLayer(Module):
    """Shared by the quantized Linear and Conv2d: the weight/qparam buffers and their QTensor."""

    _relu = False

    def _init_state(self, weight_shape, per_channel, bias, device=None):
        dev = get_device(device)
        o = weight_shape[0]
        n = o if per_channel else 1
        self.register_buffer("qweight", Tensor._make(dev.xp.zeros(weight_shape, dtype=_np.int8), dev))
        self.register_buffer("weight_scale", Tensor._make(dev.xp.ones(n, dtype=_np.float32), dev))
        self.register_buffer("float_bias", Tensor._make(dev.xp.zeros(o, dtype=_np.float32), dev) if bias else None)
        self.register_buffer("scale", Tensor._make(dev.xp.asarray(1.0, dtype=_np.float64), dev))
        self.register_buffer("zero_point", Tensor._make(dev.xp.asarray(0, dtype=_np.int64), dev))
        self.per_channel = bool(per_channel)
        object.__setattr__(self, "_qweight_cache", (None, None))
        object.__setattr__(self, "_plan", None)

    # --- PyTorch's accessors -----------------------------------------------------------------------
    def weight(self):
        """The weight as a qint8 QTensor (rebuilt only when the buffers changed, so the int8
        kernels' packed form, cached on it, is reused across calls)."""
        bufs = (self.qweight, self.weight_scale)
        key = tuple((id(b), b._version[0], b.device) for b in bufs)
        cached_key, cached = self._qweight_cache
        if cached_key == key:
            return cached
        scales = _host(self.weight_scale).astype(_np.float64)
        zps = _np.zeros(scales.shape, dtype=_np.int64)
        dev = self.qweight.device
        if self.per_channel:
            q = QTensor(self.qweight.array.copy(), dev, qint8, per_channel_symmetric, scales.astype(_np.float64),
                        zps.astype(_np.int64), 0)
        else:
            q = QTensor(self.qweight.array.copy(), dev, qint8, per_tensor_symmetric, float(scales[0]), int(zps[0]))
        object.__setattr__(self, "_qweight_cache", (key, q))
        return q

    def bias(self):
        return self.float_bias

    def set_weight_bias(self, w, b):
        """Store the qint8 QTensor ``w`` (per tensor or per channel along axis 0, zero point 0) and
        the float bias ``b`` (or None)."""
        label = self._label()
        if not isinstance(w, QTensor) or w.dtype is not qint8:
            raise DTypeError(f"{label}.set_weight_bias: the weight must be a qint8 QTensor, got "
                             f"{getattr(w, 'dtype', type(w).__name__)}")
        if tuple(w.shape) != tuple(self.qweight.shape):
            raise ArgumentError(f"{label}.set_weight_bias: weight shape {w.shape}, expected "
                                f"{tuple(self.qweight.shape)}")
        per_channel = w.qscheme().per_channel
        if per_channel:
            if w.q_per_channel_axis() != 0:
                raise ArgumentError(f"{label}.set_weight_bias: per-channel weights must use axis 0, got "
                                    f"{w.q_per_channel_axis()}")
            scales = _host(w.q_per_channel_scales()).astype(_np.float64)
            zps = _host(w.q_per_channel_zero_points()).astype(_np.int64)
        else:
            scales, zps = _np.array([w.q_scale()], _np.float64), _np.array([w.q_zero_point()], _np.int64)
        if _np.any(zps != 0):
            raise ArgumentError(f"{label}.set_weight_bias: the weight's zero point must be 0 (symmetric), got {zps}")
        dev = w.device
        self.per_channel = per_channel
        self._buffers["qweight"] = w.int_repr()
        self._buffers["weight_scale"] = Tensor._make(dev.from_host(scales.astype(_np.float32)), dev)
        if b is not None:
            if not isinstance(b, Tensor) or tuple(b.shape) != (w.shape[0],):
                raise ArgumentError(f"{label}.set_weight_bias: bias must be a float Tensor of shape ({w.shape[0]},)")
            self._buffers["float_bias"] = Tensor._make(b.detach().array.astype(_np.float32), b.device)
        else:
            self._buffers["float_bias"] = None

    def _set_output_qparams(self, scale, zero_point):
        dev = self.qweight.device
        self._buffers["scale"] = Tensor._make(dev.xp.asarray(float(scale), dtype=_np.float64), dev)
        self._buffers["zero_point"] = Tensor._make(dev.xp.asarray(int(zero_point), dtype=_np.int64), dev)

    def _out_qparams(self):
        return float(_host(self.scale)), int(_host(self.zero_point))

    def _prepared(self, x_scale):
        """The constants of one forward pass, computed once and kept on the layer: the packed
        weight ``(O, K)`` and its row sums, the multipliers ``s_x * s_w[o]`` for the input scale
        ``x_scale``, the bias in float64 on the weight's device, the output scale and zero
        point, and the device's int8 kernel.

        Everything here depends only on the buffers and the input scale, which a static
        model keeps from call to call, so a forward pass reduces to the kernel call. The
        entry is rebuilt when a buffer is replaced or written in place (a loaded state dict,
        ``set_weight_bias``, ``.to(device)``: each changes a buffer's identity or version) or
        the input scale changes. The first build runs the same checks as the functional op.
        """
        b = self._buffers
        qw, ws, fb, sc, zp = b["qweight"], b["weight_scale"], b["float_bias"], b["scale"], b["zero_point"]
        # Versions only grow, so with the same five tensors an unchanged sum means no write.
        version = qw._version[0] + ws._version[0] + sc._version[0] + zp._version[0] + (0 if fb is None else
                                                                                         fb._version[0])
        plan = self._plan
        if (plan is not None and plan.x_scale == x_scale and plan.version == version and plan.qw is qw
                and plan.ws is ws and plan.fb is fb and plan.sc is sc and plan.zp is zp):
            return plan
        op = f"{self._label()} (quantized {'linear' if self.qweight.ndim == 2 else 'conv2d'})"
        weight = self.weight()
        dev = weight.device
        o = weight.shape[0]
        k = int(_np.prod(weight.shape[1:], dtype=_np.int64))
        qF._check_reduction(op, k)
        out_scale, out_zp = qF._output_params(op, None, *self._out_qparams())
        w2d, sums, _ = qF._packed(weight)
        kernel = dev.kernels.int8_linear
        # The device table wraps kernels to run float16 arrays in float32; these operands are
        # integers and float64 by construction, so the plan calls the kernel itself.
        kernel = getattr(kernel, "__wrapped__", kernel)
        plan = _Plan((qw, ws, fb, sc, zp), version, x_scale, dev, kernel, w2d, sums, qF._multipliers(weight, x_scale),
                     dev.xp.asarray(qF._check_bias(op, fb, o, dev)), bool(self._relu), out_scale, out_zp, o, k)
        object.__setattr__(self, "_plan", plan)
        return plan

    def _check_input(self, x):
        if not isinstance(x, QTensor):
            raise TypeError(f"{self._label()}: expected a quantized input (a QTensor, quint8), got "
                            f"{type(x).__name__}{' of dtype ' + str(x.dtype) if isinstance(x, Tensor) else ''}; "
                            "quantize it first: put a QuantStub before this layer (or wrap the model in "
                            "QuantWrapper) before prepare/convert")

    def _state_repr(self):
        s, z = self._out_qparams()
        return f"scale={s:g}, zero_point={z}, qscheme={'per_channel' if self.per_channel else 'per_tensor'}"

    @classmethod
    def _float_layer(cls, mod):
        """The float Linear/Conv2d inside ``mod`` (itself, or the first module of a fused pair)."""
        return mod[0] if isinstance(mod, nni._FusedModule) else mod

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The quantized layer for the prepared (and calibrated) float or QAT layer ``mod``."""
        label = f"{type(mod).__name__} {getattr(mod, '_q_name', '')}".strip()
        float_mod = cls._float_layer(mod)
        scale, zp = activation_qparams(mod, label)
        wpp = _weight_post_process(mod, float_mod, label)
        qw = quantize_weight(float_mod.weight, wpp, label)
        new = cls._skeleton(float_mod, qw.qscheme().per_channel)
        new.set_weight_bias(qw, float_mod.bias)
        new._set_output_qparams(scale, zp)
        new.train(False)
        return new


class Linear(_QuantizedWeightLayer):
    """Quantized ``y = x W^T + b`` on quint8 inputs (see the module docstring and
    ``tinynet.quantization.functional.linear``). ``Linear(in_features, out_features,
    bias_=True, dtype=qint8)`` (PyTorch's arguments) makes one with zero weights; ``from_float``
    builds it from a calibrated layer."""

    _FLOAT_MODULE = None

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8, *, per_channel=False, device=None):
        super().__init__()
        if dtype is not qint8:
            raise DTypeError(f"quantized Linear: weights are qint8, got dtype={dtype!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_state((self.out_features, self.in_features), per_channel, bias_, device)

    def _label(self):
        return f"Quantized{type(self).__name__}({self.in_features}→{self.out_features})"

    @classmethod
    def _skeleton(cls, float_mod, per_channel):
        return cls(float_mod.in_features, float_mod.out_features, float_mod.bias is not None,
                   per_channel=per_channel, device=float_mod.weight.device)

    def forward(self, x):
        # The fast path: a per-tensor quint8 input on the layer's device with the right width
        # (what the previous quantized layer or a Quantize produces) goes straight to the
        # kernel with the constants of _prepared. Anything else takes qF.linear, which checks
        # every argument and names what is wrong; both compute the same integers.
        if type(x) is QTensor and x._dtype is quint8 and not x._qscheme.per_channel:
            p = self._prepared(x._scale)
            xi = x._int
            if x.device is p.device and xi.ndim >= 1 and xi.shape[-1] == p.k:
                out = p.kernel(xi.reshape(-1, p.k), p.w2d, p.sums, x._zero_point, p.mult, p.bias, p.relu, p.scale,
                               p.zero_point)
                return QTensor(out.reshape(xi.shape[:-1] + (p.o,)), p.device, quint8, per_tensor_affine, p.scale,
                               p.zero_point)
        self._check_input(x)
        scale, zp = self._out_qparams()
        return qF.linear(x, self.weight(), self.float_bias, scale, zp, relu=self._relu)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, {self._state_repr()}"


class LinearReLU(Linear):
    """Quantized ``relu(x W^T + b)``: the ReLU applied before requantization (fused)."""

    _relu = True


def _numeric_padding(conv):
    pad = conv.padding
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0)
        eff = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
        if any(e % 2 for e in eff):
            raise ArgumentError(f"quantized Conv2d: padding='same' with an even effective kernel size {eff} needs "
                                "asymmetric padding, which the quantized convolution does not support")
        return tuple(e // 2 for e in eff)
    return tuple(pad)


class Conv2d(_QuantizedWeightLayer):
    """Quantized 2-D convolution on quint8 (N, C, H, W) inputs (see the module docstring and
    ``tinynet.quantization.functional.conv2d``); zero padding only (``padding_mode='zeros'``)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", dtype=qint8, *, per_channel=False, device=None):
        super().__init__()
        if dtype is not qint8:
            raise DTypeError(f"quantized Conv2d: weights are qint8, got dtype={dtype!r}")
        if padding_mode != "zeros":
            raise ArgumentError(f"quantized Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")

        def pair(v):
            return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)
        self.padding = pair(padding)
        self.padding_mode = padding_mode
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ArgumentError(f"quantized Conv2d: groups={groups} must divide in_channels ({in_channels}) and "
                                f"out_channels ({out_channels})")
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._init_state(shape, per_channel, bias, device)

    def _label(self):
        return f"Quantized{type(self).__name__}({self.in_channels}→{self.out_channels}, k={self.kernel_size})"

    @classmethod
    def _skeleton(cls, conv, per_channel):
        if getattr(conv, "padding_mode", "zeros") != "zeros":
            raise ArgumentError(f"convert: {type(conv).__name__} with padding_mode={conv.padding_mode!r}: the "
                                "quantized convolution pads with zeros only")
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, _numeric_padding(conv),
                   conv.dilation, conv.groups, conv.bias is not None, per_channel=per_channel,
                   device=conv.weight.device)

    def forward(self, x):
        # The fast path (see Linear.forward): a per-tensor quint8 (N, C, H, W) input with the
        # layer's channels, groups=1: im2col and the int8 GEMM with the cached constants, the
        # geometry of each input size computed once. Anything else takes qF.conv2d (checks).
        if (type(x) is QTensor and x._dtype is quint8 and not x._qscheme.per_channel and self.groups == 1
                and x._int.ndim == 4 and x._int.shape[1] == self.in_channels):
            p = self._prepared(x._scale)
            xi = x._int
            if x.device is p.device:
                n, _, h, w = xi.shape
                geo = p.geometry.get((h, w))
                if geo is None:
                    geo = p.geometry[(h, w)] = self._geometry(h, w)
                kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geo
                cols = p.device.kernels.int8_im2col(xi, x._zero_point, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
                y = p.kernel(cols, p.w2d, p.sums, x._zero_point, p.mult, p.bias, p.relu, p.scale, p.zero_point)
                y = p.device.xp.ascontiguousarray(y.reshape(n, oh, ow, p.o).transpose(0, 3, 1, 2))
                return QTensor(y, p.device, quint8, per_tensor_affine, p.scale, p.zero_point)
        self._check_input(x)
        scale, zp = self._out_qparams()
        return qF.conv2d(x, self.weight(), self.float_bias, self.stride, self.padding, self.dilation, self.groups,
                         scale, zp, relu=self._relu)

    def _geometry(self, h, w):
        """``(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)`` for an ``h x w`` input (checked as qF.conv2d checks it)."""
        kh, kw = self.kernel_size
        (sh, sw), (ph, pw), (dh, dw), (oh, ow) = conv_geometry((h, w), (kh, kw), self.stride, self.padding,
                                                               self.dilation, f"{self._label()} (quantized conv2d)")
        return kh, kw, sh, sw, ph, pw, dh, dw, oh, ow

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, {self._state_repr()}")


class ConvReLU2d(Conv2d):
    """Quantized ``relu(conv2d(x))``: the ReLU applied before requantization (fused)."""

    _relu = True


class Quantize(Module):
    """Float → quantized: ``quantize_per_tensor(x, scale, zero_point, dtype)`` (what a QuantStub
    becomes). ``scale``/``zero_point`` are buffers (saved in the state dict)."""

    def __init__(self, scale, zero_point, dtype=quint8, *, device=None):
        super().__init__()
        dev = get_device(device)
        if dtype is not quint8:
            raise DTypeError(f"Quantize: activations are quantized to quint8 (the int8 kernels take uint8 inputs), "
                             f"got {dtype!r}")
        self.dtype = dtype
        self.register_buffer("scale", Tensor._make(dev.xp.asarray(float(scale), dtype=_np.float64), dev))
        self.register_buffer("zero_point", Tensor._make(dev.xp.asarray(int(zero_point), dtype=_np.int64), dev))

    def forward(self, X):
        # The fast path: a float32 Tensor is rounded in one pass by the device's kernel with the
        # cached scale, its float32 reciprocal and the zero point (checked once, when they were
        # read from the buffers), exactly as quantize_per_tensor rounds it. Anything else takes
        # quantize_per_tensor.
        if type(X) is Tensor and X.array.dtype == _F32:
            scale, inv, zp, kernels = self._params()
            dev = X.device
            kernel = kernels.get(dev)
            if kernel is None:
                # The device table wraps kernels to run float16 arrays in float32; this input is
                # float32, so the kernel itself is called.
                kernel = dev.kernels.quantize_per_tensor_u8
                kernel = kernels[dev] = getattr(kernel, "__wrapped__", kernel)
            return QTensor(kernel(X.array, inv, zp), dev, quint8, per_tensor_affine, scale, zp)
        if isinstance(X, QTensor):
            raise TypeError("Quantize: the input is already quantized")
        return quantize_per_tensor(X, float(_host(self.scale)), int(_host(self.zero_point)), self.dtype)

    def _params(self):
        """``(scale, 1/scale in float32, zero_point, {device: kernel})`` from the buffers,
        validated as quantize_per_tensor validates them, and kept until a buffer changes."""
        b = self._buffers
        sc, zp = b["scale"], b["zero_point"]
        key = (id(sc), sc._version[0], id(zp), zp._version[0])
        cached = self.__dict__.get("_cached_params")
        if cached is not None and cached[0] == key:
            return cached[2]
        op = "Quantize"
        scale = _check_scale(op, float(_host(sc)))
        zero_point = _check_zero_point(op, int(_host(zp)), self.dtype)
        params = (scale, _inv_scale(scale), zero_point, {})
        object.__setattr__(self, "_cached_params", (key, (sc, zp), params))  # (sc, zp): keeps the ids valid
        return params

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zp = activation_qparams(mod, f"QuantStub {getattr(mod, '_q_name', '')}".strip())
        obs = mod.activation_post_process
        dtype = getattr(obs, "dtype", quint8)
        return Quantize(scale, zp, dtype)

    def extra_repr(self):
        return f"scale={float(_host(self.scale)):g}, zero_point={int(_host(self.zero_point))}, dtype={self.dtype}"


class DeQuantize(Module):
    """Quantized → float32 (what a DeQuantStub becomes); a float input passes through."""

    def forward(self, Xq):
        if isinstance(Xq, QTensor):
            return Xq.dequantize()
        if isinstance(Xq, (list, tuple)):
            return type(Xq)(self.forward(x) for x in Xq)
        return Xq

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()


def _same_qparams(x: QTensor, ints):
    """A QTensor of the integers ``ints`` with ``x``'s dtype, scale and zero point."""
    return QTensor(ints, x.device, x._dtype, x._qscheme, x._scale, x._zero_point, x._axis)


class _IntPassthrough(Module):
    """A float layer that also takes QTensors, computing on their integers (see the module docstring)."""

    def __init__(self, float_mod):
        super().__init__()
        # a plain attribute, not a submodule: it has no state, and the repr reads as the layer
        object.__setattr__(self, "float_module", float_mod)

    def extra_repr(self):
        return self.float_module.extra_repr()

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        new = cls(mod)
        new.train(False)
        mod.train(False)           # a quantized model runs inference: a float input meets eval-mode behaviour
        return new

    def forward(self, x):
        if not isinstance(x, QTensor):
            return self.float_module(x)
        return self._on_ints(x)


class ReLU(_IntPassthrough):
    """ReLU on a quantized tensor: ``max(q, zero_point)`` (real 0 is ``zero_point``), same qparams."""

    def __init__(self, float_mod=None, inplace=False):
        super().__init__(float_mod if float_mod is not None else _FloatReLU(inplace))

    def _on_ints(self, x):
        if x.qscheme().per_channel:
            zp = x.device.xp.asarray(x._zero_point).reshape([-1 if i == x._axis else 1 for i in range(x.ndim)])
            zp = zp.astype(x._int.dtype)
        else:
            zp = x._int.dtype.type(x.q_zero_point())
        return _same_qparams(x, x.device.xp.maximum(x._int, zp))


class MaxPool2d(_IntPassthrough):
    """Max pooling on a quantized tensor: on the integers (exact, same qparams)."""

    def _on_ints(self, x):
        m = self.float_module
        if getattr(m, "return_indices", False):
            raise ArgumentError("quantized MaxPool2d: return_indices=True is not supported on quantized tensors")
        windows = self._tiling(x)
        if windows is not None:
            # Windows that tile the input (kernel = stride, no padding or dilation, floor mode):
            # the maximum of the kh*kw strided views of the integers, no float round trip.
            (kh, kw), (oh, ow) = windows
            xi = x._int
            xp = x.device.xp
            out = None
            for i in range(kh):
                for j in range(kw):
                    view = xi[:, :, i:oh * kh:kh, j:ow * kw:kw]
                    out = view.copy() if out is None else xp.maximum(out, view, out=out)
            return _same_qparams(x, out)
        vals = Tensor._make(x._int.astype(_np.float32), x.device)
        out = F.max_pool2d(vals, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        return _same_qparams(x, out.array.astype(x._int.dtype))


    def _tiling(self, x):
        """``((kh, kw), (oh, ow))`` when the windows tile a 4-D input without overlap, padding,
        dilation or ceil mode (the digits CNN's 2x2 pooling); else None (the general path)."""
        m = self.float_module

        def pair(v):
            return (v, v) if isinstance(v, int) else tuple(v)
        k, st, pad, dil = pair(m.kernel_size), pair(m.stride), pair(m.padding), pair(m.dilation)
        if x._int.ndim != 4 or m.ceil_mode or k != st or pad != (0, 0) or dil != (1, 1):
            return None
        oh, ow = x._int.shape[2] // k[0], x._int.shape[3] // k[1]
        if oh < 1 or ow < 1:
            return None
        return k, (oh, ow)


class Flatten(_IntPassthrough):
    """Flatten on a quantized tensor (reshapes the integers; per-tensor qparams only)."""

    def _on_ints(self, x):
        if x.qscheme().per_channel:
            raise ArgumentError("quantized Flatten: a per-channel quantized tensor cannot be flattened (its axis "
                                "would be lost)")
        m = self.float_module
        nd = x.ndim
        start, end = m.start_dim % nd, m.end_dim % nd
        shape = x.shape[:start] + (_math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
        return _same_qparams(x, x._int.reshape(shape))


class Dropout(_IntPassthrough):
    """Dropout in a quantized model: the identity (quantized models run inference only)."""

    def _on_ints(self, x):
        return x
