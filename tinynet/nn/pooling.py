"""Pooling and channel-dropout layers: max/average/adaptive/power-average pools (1-d and 2-d),
max unpooling, and Dropout2d.

Thin modules over :mod:`tinynet.functional.pooling` and ``F.dropout2d`` with PyTorch's
arguments and defaults (``stride`` defaults to ``kernel_size``). Errors name the layer
as constructed, e.g. ``MaxPool2d(kernel_size=2)``.
"""
from __future__ import annotations

from ..functional._args import as_int, as_int_or_ints, as_ints
from ..functional.dropout import _check_p
from ..functional.dropout2d import dropout2d
from ..functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d,
                                  avg_pool1d, avg_pool2d, lp_pool1d, lp_pool2d, max_pool1d, max_pool2d, max_unpool1d,
                                  max_unpool2d)
from ..functional.pooling import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d, lp_pool3d, max_pool3d,
                                  max_unpool3d)
from ..tensor.tensor import Tensor
from .module import Module


__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d",
           "AvgPool2d", "Dropout2d", "LPPool1d", "LPPool2d", "MaxPool1d", "MaxPool2d", "MaxUnpool1d", "MaxUnpool2d",
           "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "LPPool3d", "MaxPool3d", "MaxUnpool3d"]


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


class MaxPool1d(Module):
    """Max over ``kernel_size`` windows along L of (N, C, L) (see ``F.max_pool1d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 1, "kernel_size", "MaxPool1d")
        self.stride = as_int_or_ints(stride, 1, "stride", "MaxPool1d") if stride is not None else self.kernel_size
        self.padding = as_int_or_ints(padding, 1, "padding", "MaxPool1d")
        self.dilation = as_int_or_ints(dilation, 1, "dilation", "MaxPool1d")
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        _check_input(f"MaxPool1d(kernel_size={self.kernel_size})", x)
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """Mean over ``kernel_size`` windows along L of (N, C, L) (see ``F.avg_pool1d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        # PyTorch's AvgPool1d stores 1-tuples (kernel_size=(2,)), unlike MaxPool1d
        self.kernel_size = as_ints(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = as_ints(stride, 1, "stride", "AvgPool1d") if stride is not None else self.kernel_size
        self.padding = as_ints(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        _check_input(f"AvgPool1d(kernel_size={self.kernel_size})", x)
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _adaptive_size(output_size, n, kind):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != n:
            raise TypeError(f"{kind}: output_size must be an int or a tuple of {n} ints, got {output_size!r}")
        return tuple(None if v is None else as_int(v, "output_size", kind, minimum=1) for v in output_size)
    return as_int(output_size, "output_size", kind, minimum=1)


class AdaptiveAvgPool1d(Module):
    """Average-pool (N, C, L) to length ``output_size`` whatever L is."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _adaptive_size(output_size, 1, "AdaptiveAvgPool1d")

    def forward(self, x):
        _check_input(f"AdaptiveAvgPool1d(output_size={self.output_size})", x)
        return adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max-pool (N, C, L) to length ``output_size``; ``return_indices`` also returns the argmax positions."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = _adaptive_size(output_size, 1, "AdaptiveMaxPool1d")
        self.return_indices = bool(return_indices)

    def forward(self, x):
        _check_input(f"AdaptiveMaxPool1d(output_size={self.output_size})", x)
        return adaptive_max_pool1d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max-pool (N, C, H, W) to ``output_size`` (an int or a pair; None keeps that axis)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = _adaptive_size(output_size, 2, "AdaptiveMaxPool2d")
        self.return_indices = bool(return_indices)

    def forward(self, x):
        _check_input(f"AdaptiveMaxPool2d(output_size={self.output_size})", x)
        return adaptive_max_pool2d(x, self.output_size, self.return_indices,
                                   op=f"AdaptiveMaxPool2d(output_size={self.output_size})")

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxUnpool1d(Module):
    """Partial inverse of MaxPool1d: ``forward(input, indices, output_size=None)`` (see ``F.max_unpool1d``)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = as_ints(kernel_size, 1, "kernel_size", "MaxUnpool1d")   # tuples, as PyTorch stores them
        self.stride = as_ints(stride, 1, "stride", "MaxUnpool1d") if stride is not None else self.kernel_size
        self.padding = as_ints(padding, 1, "padding", "MaxUnpool1d")

    def forward(self, input, indices, output_size=None):
        _check_input(f"MaxUnpool1d(kernel_size={self.kernel_size})", input)
        return max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """Partial inverse of MaxPool2d: ``forward(input, indices, output_size=None)`` (see ``F.max_unpool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = as_ints(kernel_size, 2, "kernel_size", "MaxUnpool2d")   # tuples, as PyTorch stores them
        self.stride = as_ints(stride, 2, "stride", "MaxUnpool2d") if stride is not None else self.kernel_size
        self.padding = as_ints(padding, 2, "padding", "MaxUnpool2d")

    def forward(self, input, indices, output_size=None):
        _check_input(f"MaxUnpool2d(kernel_size={self.kernel_size})", input)
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool1d(Module):
    """Power-average pooling along L: ``(sum over the window of x^p)^(1/p)`` (see ``F.lp_pool1d``)."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = as_int_or_ints(kernel_size, 1, "kernel_size", "LPPool1d")
        self.stride = None if stride is None else as_int_or_ints(stride, 1, "stride", "LPPool1d")
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        _check_input(f"LPPool1d(norm_type={self.norm_type}, kernel_size={self.kernel_size})", x)
        return lp_pool1d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool2d(Module):
    """Power-average pooling over (N, C, H, W) windows (see ``F.lp_pool2d``)."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = as_int_or_ints(kernel_size, 2, "kernel_size", "LPPool2d")
        self.stride = None if stride is None else as_int_or_ints(stride, 2, "stride", "LPPool2d")
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        _check_input(f"LPPool2d(norm_type={self.norm_type}, kernel_size={self.kernel_size})", x)
        return lp_pool2d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


# --- 3-d pools over (N, C, D, H, W) ------------------------------------------------------------
class MaxPool3d(Module):
    """Max over ``kernel_size`` windows of (N, C, D, H, W) (see ``F.max_pool3d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 3, "kernel_size", "MaxPool3d")
        self.stride = as_int_or_ints(stride, 3, "stride", "MaxPool3d") if stride is not None else self.kernel_size
        self.padding = as_int_or_ints(padding, 3, "padding", "MaxPool3d")
        self.dilation = as_int_or_ints(dilation, 3, "dilation", "MaxPool3d")
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        _check_input(f"MaxPool3d(kernel_size={self.kernel_size})", x)
        return max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(Module):
    """Mean over ``kernel_size`` windows of (N, C, D, H, W) (see ``F.avg_pool3d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 3, "kernel_size", "AvgPool3d")
        self.stride = as_int_or_ints(stride, 3, "stride", "AvgPool3d") if stride is not None else self.kernel_size
        self.padding = as_int_or_ints(padding, 3, "padding", "AvgPool3d")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = (None if divisor_override is None else
                                 as_int(divisor_override, "divisor_override", "AvgPool3d", minimum=1))

    def forward(self, x):
        _check_input(f"AvgPool3d(kernel_size={self.kernel_size})", x)
        return avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(Module):
    """Average-pool (N, C, D, H, W) to ``output_size`` (an int or a triple; None keeps that axis)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _adaptive_size(output_size, 3, "AdaptiveAvgPool3d")

    def forward(self, x):
        _check_input(f"AdaptiveAvgPool3d(output_size={self.output_size})", x)
        return adaptive_avg_pool3d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(Module):
    """Max-pool (N, C, D, H, W) to ``output_size`` (an int or a triple; None keeps that axis)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = _adaptive_size(output_size, 3, "AdaptiveMaxPool3d")
        self.return_indices = bool(return_indices)

    def forward(self, x):
        _check_input(f"AdaptiveMaxPool3d(output_size={self.output_size})", x)
        return adaptive_max_pool3d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxUnpool3d(Module):
    """Partial inverse of MaxPool3d: ``forward(input, indices, output_size=None)`` (see ``F.max_unpool3d``)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = as_ints(kernel_size, 3, "kernel_size", "MaxUnpool3d")   # tuples, as PyTorch stores them
        self.stride = as_ints(stride, 3, "stride", "MaxUnpool3d") if stride is not None else self.kernel_size
        self.padding = as_ints(padding, 3, "padding", "MaxUnpool3d")

    def forward(self, input, indices, output_size=None):
        _check_input(f"MaxUnpool3d(kernel_size={self.kernel_size})", input)
        return max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool3d(Module):
    """Power-average pooling over (N, C, D, H, W) windows (see ``F.lp_pool3d``)."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = as_int_or_ints(kernel_size, 3, "kernel_size", "LPPool3d")
        self.stride = None if stride is None else as_int_or_ints(stride, 3, "stride", "LPPool3d")
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        _check_input(f"LPPool3d(norm_type={self.norm_type}, kernel_size={self.kernel_size})", x)
        return lp_pool3d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")
