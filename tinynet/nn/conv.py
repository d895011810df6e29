"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d (PyTorch's arguments and init).

A convolution layer slides ``out_channels`` learned filters of size
``in_channels/groups x kh x kw`` over its input (see :mod:`tinynet.functional.conv` for
the math and the im2col + GEMM implementation). The default initialisation is
PyTorch's: weights ``kaiming_uniform(a=√5)``, i.e. ``U(−1/√fan_in, 1/√fan_in)`` with
``fan_in = in_channels/groups · kh · kw``, and the bias from the same interval.

Every shape problem is reported with the layer's name as written, e.g.
``Conv2d(1→16, k=3): expected input of shape (N, C=1, H, W), got (64, 3, 28, 28)``.
"""
from __future__ import annotations

import math

from ..backend.errors import DeviceError, DTypeError, ShapeError
from ..autograd.autocast_state import STATE as _AUTOCAST
from .. import functional as F
from ..backend import get_device
from ..functional._args import as_int
from ..functional._util import dtype_fix
from ..functional.conv import _ints
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import init
from .module import Module
from .parameter import empty_parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "ChannelShuffle"]


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value, what, layer):
    return as_int(value, what, layer, minimum=1)


class _ConvNd(Module):
    """Shared construction, checks and repr of the convolution layers (``n`` spatial axes)."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None,
                 output_padding=0):
        super().__init__()
        kind = type(self).__name__
        in_channels = _positive_int(in_channels, "in_channels", kind)
        out_channels = _positive_int(out_channels, "out_channels", kind)
        groups = _positive_int(groups, "groups", kind)
        n = self._n
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ints(kernel_size, n, "kernel_size", kind)
        self.stride = _ints(stride, n, "stride", kind)
        self.dilation = _ints(dilation, n, "dilation", kind)
        self.output_padding = _ints(output_padding, n, "output_padding", kind)
        if not self._transposed and self.output_padding != (0,) * n:
            raise TypeError(f"{kind}: output_padding is an argument of the transposed convolutions only "
                            f"(ConvTranspose{n}d), got {output_padding!r}")
        label = self._label()
        if min(self.kernel_size) <= 0:
            raise ShapeError(f"{label}: kernel_size must be positive, got {kernel_size!r}")
        if min(self.stride) <= 0:
            raise ValueError(f"{label}: stride must be positive, got {stride!r}")
        if min(self.dilation) <= 0:
            raise ValueError(f"{label}: dilation must be positive, got {dilation!r}")
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{label}: groups={groups} must divide both in_channels ({in_channels}) and "
                             f"out_channels ({out_channels})")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                allowed = "a non-negative int or tuple" + ("" if self._transposed else ", 'same' or 'valid'")
                raise ValueError(f"{label}: padding must be {allowed}, got {padding!r}")
            if padding == "same" and max(self.stride) != 1:
                raise ValueError(f"{label}: padding='same' needs stride 1, got stride {stride!r}")
            self.padding = padding
        else:
            self.padding = _ints(padding, n, "padding", kind)
            if min(self.padding) < 0:
                raise ValueError(f"{label}: padding must be non-negative, got {padding!r}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{label}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if padding_mode != "zeros" and self._transposed:
            raise ValueError(f"{label}: only padding_mode='zeros' is supported for transposed convolutions")
        self.padding_mode = padding_mode
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = empty_parameter(wshape, dev, dt)
        self.register_parameter("bias", empty_parameter((out_channels,), dev, dt) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw the parameters with PyTorch's default scheme (see the module docstring)."""
        init.default_weight_and_bias_(self.weight, self.bias, self.weight.shape[1] * math.prod(self.kernel_size))

    def _label(self) -> str:
        k = self.kernel_size
        ks = str(k[0]) if len(set(k)) == 1 else "x".join(str(v) for v in k)
        return f"{type(self).__name__}({self.in_channels}\u2192{self.out_channels}, k={ks})"

    def _check_input(self, x):
        """Check ``x`` against this layer; return the weight (read once) for the forward."""
        label = self._label()
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}; wrap data with tn.tensor(...)")
        spatial = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[self._n]
        expected = f"(N, C={self.in_channels}, {', '.join(spatial)})"
        if x.ndim not in (self._n + 1, self._n + 2):
            raise ShapeError(f"{label}: expected input of shape {expected} ({self._n + 2}-D, or {self._n + 1}-D "
                             f"without the batch axis), got shape {tuple(x.shape)}")
        channels = x.shape[-self._n - 1]
        if channels != self.in_channels:
            raise ShapeError(f"{label}: expected input of shape {expected}, got shape {tuple(x.shape)} "
                             f"with {channels} channels")
        w = self.weight  # read once: a parametrised weight (spectral_norm, ...) is computed on each read
        if x.device is not w.device:
            raise DeviceError(
                f"{label}: input is on {x.device.type} but the layer's weights are on {w.device.type}; "
                f"move one, e.g. `x.to('{w.device.type}')` or `model.to('{x.device.type}')`"
            )
        if x.array.dtype != w.array.dtype and not _AUTOCAST.active:  # (autocast: the op casts both)
            raise DTypeError(
                f"{label}: input is {x.dtype} but the layer's weights are {w.dtype}; "
                f"{dtype_fix(x.dtype, w.dtype, ids_hint=False)}"
            )
        return w

    def _explicit_pad(self, x):
        """For padding_mode != 'zeros': pad with F.pad and convolve without padding."""
        if self.padding == "valid":
            return x, 0
        if self.padding == "same":
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                t = d * (k - 1)
                pads.append((t // 2, t - t // 2))
        else:
            pads = [(p, p) for p in self.padding]
        flat = []
        for lo, hi in reversed(pads):      # F.pad lists the last axis first
            flat += [lo, hi]
        return F.pad(x, tuple(flat), mode=self.padding_mode), 0

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out) (see the module docstring).

    ``H_out = (H + 2·padding − dilation·(kernel_size − 1) − 1) // stride + 1``. ``padding`` may
    be ``"same"`` (stride 1) or ``"valid"``; ``padding_mode`` is ``"zeros"`` (default),
    ``"reflect"``, ``"replicate"`` or ``"circular"``.
    """

    def forward(self, x):
        w = self._check_input(x)
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._explicit_pad(x)
        return F.conv2d(x, w, self.bias, self.stride, padding, self.dilation, self.groups,
                        op=self._label())


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out), e.g. over time series or token sequences."""

    _n = 1

    def forward(self, x):
        w = self._check_input(x)
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._explicit_pad(x)
        if not isinstance(padding, str):
            padding = padding[0] if isinstance(padding, tuple) else padding
        return F.conv1d(x, w, self.bias, self.stride[0], padding, self.dilation[0], self.groups,
                        op=self._label())


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the adjoint of Conv2d): upsamples (N, C_in, H, W).

    ``H_out = (H − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1``.
    The weight has shape (C_in, C_out/groups, kh, kw), as in PyTorch.
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)

    def _output_padding(self, x, output_size):
        """PyTorch's rule: the output_padding that makes the output ``output_size`` (n or n+2 numbers)."""
        if output_size is None:
            return self.output_padding
        label, n = self._label(), self._n
        sizes = tuple(int(v) for v in output_size)
        if len(sizes) == n + 2 or (len(sizes) == n + 1 and x.ndim == n + 1):
            sizes = sizes[-n:]
        if len(sizes) != n:
            raise ValueError(f"{label}: output_size must have {n} or {n + 2} elements, got {tuple(output_size)}")
        pads = []
        for i, (want, s, p, d, k) in enumerate(zip(sizes, self.stride, self.padding, self.dilation, self.kernel_size)):
            smallest = (x.shape[x.ndim - n + i] - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want < smallest + s:
                raise ValueError(f"{label}: requested an output size of {sizes}, but the valid sizes along axis "
                                 f"{i} range from {smallest} to {smallest + s - 1} (for an input of shape "
                                 f"{tuple(x.shape)})")
            pads.append(want - smallest)
        return tuple(pads)

    def forward(self, x, output_size=None):
        w = self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose2d(x, w, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation, op=self._label())


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution (the adjoint of Conv1d): upsamples (N, C_in, L).

    ``L_out = (L − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1``;
    the weight has shape (C_in, C_out/groups, k).
    """

    _n = 1

    def forward(self, x, output_size=None):
        w = self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose1d(x, w, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation, op=self._label())


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out), e.g. over video or volumes.

    Each output size is ``(size + 2·padding − dilation·(kernel_size − 1) − 1) // stride + 1``;
    ``padding`` may be ``"same"`` (stride 1) or ``"valid"``; ``padding_mode`` is ``"zeros"``
    (default), ``"reflect"``, ``"replicate"`` or ``"circular"``.
    """

    _n = 3

    def forward(self, x):
        w = self._check_input(x)
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._explicit_pad(x)
        return F.conv3d(x, w, self.bias, self.stride, padding, self.dilation, self.groups,
                        op=self._label())


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-D convolution (the adjoint of Conv3d): upsamples (N, C_in, D, H, W).

    ``D_out = (D − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1``
    (likewise H, W); the weight has shape (C_in, C_out/groups, kd, kh, kw).
    """

    _n = 3

    def forward(self, x, output_size=None):
        w = self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose3d(x, w, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation, op=self._label())


class ChannelShuffle(Module):
    """Interleave the channels of (N, C, *) from ``groups`` blocks (ShuffleNet; see ``F.channel_shuffle``)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = _positive_int(groups, "groups", "ChannelShuffle")

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
