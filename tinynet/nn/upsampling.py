"""Upsampling layers (PyTorch's ``nn.Upsample``, ``nn.UpsamplingNearest2d``, ``nn.UpsamplingBilinear2d``).

Thin modules over :func:`tinynet.functional.interpolate` (see it for the coordinate rules).
"""
from __future__ import annotations

from ..functional.resize import interpolate
from ..tensor.tensor import Tensor
from .module import Module

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


def _tupled(v, convert):
    if v is None:
        return None
    return tuple(convert(e) for e in v) if isinstance(v, (tuple, list)) else convert(v)


class Upsample(Module):
    """Resize the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs.

    Give ``size`` or ``scale_factor``; ``mode`` is ``"nearest"`` (default),
    ``"nearest-exact"``, ``"linear"``, ``"bilinear"``, ``"bicubic"``, ``"trilinear"`` or
    ``"area"``; ``align_corners`` and ``recompute_scale_factor`` as in ``F.interpolate``.
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = _tupled(size, int)
        self.scale_factor = _tupled(scale_factor, float)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self.name}: expected a Tensor input, got {type(input).__name__}")
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")`` for (N, C, H, W) inputs."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)`` (PyTorch's choice) for NCHW inputs."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
