"""``nn.Unfold`` / ``nn.Fold``: sliding blocks of an image to columns (im2col) and back (col2im).

Thin modules over :func:`tinynet.functional.unfold` and :func:`tinynet.functional.fold`.
"""
from __future__ import annotations

from ..functional._args import as_int_or_ints
from ..functional.folding import fold, unfold
from .module import Module

__all__ = ["Fold", "Unfold"]


class Unfold(Module):
    """(N, C, H, W) -> (N, C*kh*kw, L): every ``kernel_size`` block as a column (see ``F.unfold``)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = as_int_or_ints(kernel_size, 2, "kernel_size", "Unfold")
        self.dilation = as_int_or_ints(dilation, 2, "dilation", "Unfold")
        self.padding = as_int_or_ints(padding, 2, "padding", "Unfold")
        self.stride = as_int_or_ints(stride, 2, "stride", "Unfold")

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """(N, C*kh*kw, L) -> (N, C, H, W): sum the blocks back into an ``output_size`` image (see ``F.fold``)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = as_int_or_ints(output_size, 2, "output_size", "Fold")
        self.kernel_size = as_int_or_ints(kernel_size, 2, "kernel_size", "Fold")
        self.dilation = as_int_or_ints(dilation, 2, "dilation", "Fold")
        self.padding = as_int_or_ints(padding, 2, "padding", "Fold")
        self.stride = as_int_or_ints(stride, 2, "stride", "Fold")

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
