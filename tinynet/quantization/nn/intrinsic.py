"""Fused float modules (PyTorch's ``torch.ao.nn.intrinsic``): a layer and the ReLU after it held
as one unit, so that quantization treats them as one op.

A quantized ``Conv2d`` followed by a separate ``ReLU`` would round its output to int8 and
then clip the negative half away -- half of the 256 levels wasted on values ReLU discards.
Fused, the ReLU is applied to the int32 accumulator before the one requantization, and the
observer sees only the non-negative outputs, so all levels cover the range that survives.
``fuse_modules`` builds these; before conversion they compute exactly what the pair did.
"""
from __future__ import annotations

from ...nn.activation import ReLU
from ...nn.containers import Sequential
from ...nn.conv import Conv2d
from ...nn.linear import Linear

__all__ = ["_FusedModule", "LinearReLU", "ConvReLU2d"]


class _FusedModule(Sequential):
    """Base of fused modules: a Sequential of the layers it fuses (a leaf for quantization)."""

    _parts: tuple = ()

    def __init__(self, *mods):
        label = type(self).__name__
        want = self._parts
        if len(mods) != len(want) or not all(isinstance(m, t) for m, t in zip(mods, want)):
            got = ", ".join(type(m).__name__ for m in mods)
            raise TypeError(f"{label}: expects ({', '.join(t.__name__ for t in want)}), got ({got})")
        super().__init__(*mods)

    def forward(self, x):
        # only the fused layers: prepare may attach an observer submodule, run by its hook
        for i in range(len(self._parts)):
            x = self._modules[str(i)](x)
        return x


class LinearReLU(_FusedModule):
    """``relu(linear(x))`` as one unit: ``LinearReLU(linear, relu)``."""

    _parts = (Linear, ReLU)


class ConvReLU2d(_FusedModule):
    """``relu(conv2d(x))`` as one unit: ``ConvReLU2d(conv, relu)``."""

    _parts = (Conv2d, ReLU)
