"""Padding layers (PyTorch's ``nn.ZeroPad2d``, ``nn.ReflectionPad1d``, ...): thin modules over ``F.pad``.

``padding`` is an int (the same width on every side) or a tuple of 2·n ints
``(left, right[, top, bottom[, front, back]])``, last axis first, as ``F.pad`` reads it.
Negative widths crop. The ``Nd`` in the name is the number of padded (trailing) axes;
inputs are batched (N, C, *spatial) or unbatched (C, *spatial).
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..functional._args import as_float, as_ints
from ..functional.padding import pad
from ..tensor.tensor import Tensor
from .module import Module

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]


class _PadNd(Module):
    """Shared construction and forward: ``n`` padded axes, ``mode`` of ``F.pad``."""

    _n = 1
    _mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        self.padding = as_ints(padding, 2 * self._n, "padding", type(self).__name__)
        self.value = as_float(value, "value", type(self).__name__)

    def forward(self, input):
        kind = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{kind}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in (self._n + 1, self._n + 2):
            raise ShapeError(f"{kind}({self.padding}): expected a {self._n + 1}-D (unbatched) or {self._n + 2}-D "
                             f"(batched) input, got shape {tuple(input.shape)}")
        if self._mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self._mode)

    def extra_repr(self):
        if type(self).__name__.startswith("Constant"):  # PyTorch's reprs: ConstantPad1d(padding=(2, 1), value=0.5)
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _layer(name, n, mode, doc, constant=False):
    if constant:
        def __init__(self, padding, value):
            _PadNd.__init__(self, padding, value)
    elif mode == "constant":
        def __init__(self, padding):
            _PadNd.__init__(self, padding, 0.0)
    else:
        def __init__(self, padding):
            _PadNd.__init__(self, padding)
    return type(name, (_PadNd,), {"_n": n, "_mode": mode, "__init__": __init__, "__doc__": doc,
                                  "__module__": __name__})


_DOCS = {
    "Zero": ("constant", "Pad the last {n} axes with zeros (negative widths crop)."),
    "Constant": ("constant", "Pad the last {n} axes with the constant ``value`` (negative widths crop)."),
    "Reflection": ("reflect", "Pad the last {n} axes with their mirror image, the edge not repeated "
                              "(``[1, 2, 3]`` padded by 2 on the left: ``[3, 2, 1, 2, 3]``); widths < axis size."),
    "Replication": ("replicate", "Pad the last {n} axes by repeating the edge values."),
    "Circular": ("circular", "Pad the last {n} axes by wrapping around (periodic boundary)."),
}

for _kind, (_mode, _doc) in _DOCS.items():
    for _n in (1, 2, 3):
        _name = f"{_kind}Pad{_n}d"
        globals()[_name] = _layer(_name, _n, _mode, _doc.format(n=_n), constant=_kind == "Constant")
del _kind, _mode, _doc, _n, _name
