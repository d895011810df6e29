"""``nn.PixelShuffle`` / ``nn.PixelUnshuffle``: channels to space and back (sub-pixel convolution).

Thin modules over :func:`tinynet.functional.pixel_shuffle` and ``pixel_unshuffle``.
"""
from __future__ import annotations

from ..functional._args import as_int
from ..functional.folding import pixel_shuffle, pixel_unshuffle
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) with r = ``upscale_factor``."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = as_int(upscale_factor, "upscale_factor", "PixelShuffle", minimum=1)

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) with r = ``downscale_factor`` (the inverse of PixelShuffle)."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = as_int(downscale_factor, "downscale_factor", "PixelUnshuffle", minimum=1)

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
