"""Layers for quantization-aware training (PyTorch's ``torch.ao.nn.qat``).

Each is its float layer whose weight passes through a FakeQuantize (``weight_fake_quant``,
built from ``qconfig.weight``) on every forward: the forward pass sees the int8-rounded
weights the converted model will use, while the optimizer keeps updating the float
weights (the straight-through estimator carries the gradient through the rounding).
:func:`~tinynet.quantization.prepare_qat` swaps them in (sharing the float layer's
Parameters, so an optimizer built afterwards trains them) and adds a FakeQuantize on each
layer's output; :func:`~tinynet.quantization.convert` turns them into quantized layers
using the qparams learned during training.
"""
from __future__ import annotations

from ... import functional as F
from ...nn.activation import ReLU
from ...nn.conv import Conv2d as _FloatConv2d
from ...nn.linear import Linear as _FloatLinear
from . import intrinsic as nni

__all__ = ["Linear", "LinearReLU", "Conv2d", "ConvReLU2d"]


def _need_qconfig(cls, qconfig):
    if qconfig is None:
        raise ValueError(f"qat.{cls.__name__}: qconfig must be provided for a QAT module (a QConfig whose weight "
                         "factory builds a FakeQuantize, e.g. get_default_qat_qconfig('x86'))")


class Linear(_FloatLinear):
    """``linear(x, fake_quant(W), b)`` (see the module docstring)."""

    _FLOAT_MODULE = _FloatLinear
    _relu = False

    def __init__(self, in_features, out_features, bias=True, qconfig=None, device=None, dtype=None):
        _need_qconfig(type(self), qconfig)
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, x):
        y = F.linear(x, self.weight_fake_quant(self.weight), self.bias)
        return F.relu(y) if self._relu else y

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT layer for a float ``Linear`` (or fused ``LinearReLU``) with a ``qconfig``; it
        shares the float layer's Parameters."""
        qconfig = getattr(mod, "qconfig", None)
        _need_qconfig(cls, qconfig)
        lin = mod[0] if isinstance(mod, nni._FusedModule) else mod
        new = cls(lin.in_features, lin.out_features, lin.bias is not None, qconfig=qconfig,
                  device=lin.weight.device, dtype=lin.weight.dtype)
        new.weight = lin.weight
        if lin.bias is not None:
            new.bias = lin.bias
        new.train(mod.training)
        return new

    def to_float(self):
        """The plain float layer (fused ReLU included) with the current weights."""
        lin = _FloatLinear(self.in_features, self.out_features, self.bias is not None, device=self.weight.device,
                           dtype=self.weight.dtype)
        lin.weight = self.weight
        if self.bias is not None:
            lin.bias = self.bias
        return nni.LinearReLU(lin, ReLU()) if self._relu else lin


class LinearReLU(Linear):
    """``relu(linear(x, fake_quant(W), b))``: QAT version of the fused ``LinearReLU``."""

    _FLOAT_MODULE = nni.LinearReLU
    _relu = True


class Conv2d(_FloatConv2d):
    """``conv2d(x, fake_quant(W), b)`` (see the module docstring)."""

    _FLOAT_MODULE = _FloatConv2d
    _relu = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", qconfig=None, device=None, dtype=None):
        _need_qconfig(type(self), qconfig)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, bias=bias, padding_mode=padding_mode, device=device, dtype=dtype)
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, x):
        self._check_input(x)
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._explicit_pad(x)
        y = F.conv2d(x, self.weight_fake_quant(self.weight), self.bias, self.stride, padding, self.dilation,
                     self.groups, op=self._label())
        return F.relu(y) if self._relu else y

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT layer for a float ``Conv2d`` (or fused ``ConvReLU2d``) with a ``qconfig``; it
        shares the float layer's Parameters."""
        qconfig = getattr(mod, "qconfig", None)
        _need_qconfig(cls, qconfig)
        conv = mod[0] if isinstance(mod, nni._FusedModule) else mod
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                  conv.groups, conv.bias is not None, conv.padding_mode, qconfig=qconfig, device=conv.weight.device,
                  dtype=conv.weight.dtype)
        new.weight = conv.weight
        if conv.bias is not None:
            new.bias = conv.bias
        new.train(mod.training)
        return new


class ConvReLU2d(Conv2d):
    """``relu(conv2d(x, fake_quant(W), b))``: QAT version of the fused ``ConvReLU2d``."""

    _FLOAT_MODULE = nni.ConvReLU2d
    _relu = True
