"""Pooling and channel-dropout layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout2d.

Thin modules over :mod:`tinynet.functional.pooling` and ``F.dropout2d`` with PyTorch's
arguments and defaults (``stride`` defaults to ``kernel_size``). Errors name the layer
as constructed, e.g. ``MaxPool2d(kernel_size=2)``.
"""
from __future__ import annotations

from ..functional._args import as_int, as_int_or_ints
from ..functional.dropout import _check_p
from ..functional.dropout2d import dropout2d
from ..functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from ..tensor.tensor import Tensor
from .module import Module


__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "Dropout2d", "MaxPool2d"]


def _check_input(label, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows of (N, C, H, W) (see ``F.max_pool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 2, "kernel_size", "MaxPool2d")
        self.stride = as_int_or_ints(stride, 2, "stride", "MaxPool2d") if stride is not None else self.kernel_size
        self.padding = as_int_or_ints(padding, 2, "padding", "MaxPool2d")
        self.dilation = as_int_or_ints(dilation, 2, "dilation", "MaxPool2d")
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def _label(self):
        return f"MaxPool2d(kernel_size={self.kernel_size})"

    def forward(self, x):
        _check_input(self._label(), x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices, op=self._label())

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over ``kernel_size`` windows of (N, C, H, W) (see ``F.avg_pool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 2, "kernel_size", "AvgPool2d")
        self.stride = as_int_or_ints(stride, 2, "stride", "AvgPool2d") if stride is not None else self.kernel_size
        self.padding = as_int_or_ints(padding, 2, "padding", "AvgPool2d")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = (None if divisor_override is None else
                                 as_int(divisor_override, "divisor_override", "AvgPool2d", minimum=1))

    def _label(self):
        return f"AvgPool2d(kernel_size={self.kernel_size})"

    def forward(self, x):
        _check_input(self._label(), x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override, op=self._label())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average-pool (N, C, H, W) to a fixed ``output_size`` whatever H and W are (1 = global pooling)."""

    def __init__(self, output_size):
        super().__init__()
        if isinstance(output_size, (tuple, list)):
            if len(output_size) != 2:
                raise TypeError(f"AdaptiveAvgPool2d: output_size must be an int or a tuple of 2 ints (or None), "
                                f"got {output_size!r}")
            self.output_size = tuple(None if v is None else as_int(v, "output_size", "AdaptiveAvgPool2d", minimum=1)
                                     for v in output_size)
        else:
            self.output_size = as_int(output_size, "output_size", "AdaptiveAvgPool2d", minimum=1)

    def _label(self):
        return f"AdaptiveAvgPool2d(output_size={self.output_size})"

    def forward(self, x):
        _check_input(self._label(), x)
        return adaptive_avg_pool2d(x, self.output_size, op=self._label())

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Dropout2d(Module):
    """Zero whole channels with probability ``p`` while training (see ``F.dropout2d``); identity in eval.
    ``inplace=True`` applies the mask in the input's own memory and returns the input."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, "Dropout2d")
        self.inplace = bool(inplace)

    def forward(self, x):
        return dropout2d(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
