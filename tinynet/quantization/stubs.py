"""Where a model's quantized region starts and ends (PyTorch's ``QuantStub``/``DeQuantStub``).

In eager-mode quantization the model's code says where float tensors become quantized and
back: ``x = self.quant(x)`` before the first quantized layer, ``x = self.dequant(x)`` after
the last. Before conversion both are identities (a :class:`QuantStub` gets an observer from
:func:`prepare` that measures the input's range); :func:`convert` turns them into
``quantized.Quantize`` (float → quint8 with the observed scale/zero point) and
``quantized.DeQuantize`` (back to float32). :class:`QuantWrapper` adds the pair around a
whole model whose code has none.
"""
from __future__ import annotations

from ..nn.module import Module

__all__ = ["QuantStub", "DeQuantStub", "QuantWrapper"]


class QuantStub(Module):
    """Marks where the input becomes quantized; an identity until :func:`convert` swaps it for
    ``quantized.Quantize``. ``qconfig`` (optional) overrides the one inherited from the parent."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig is not None:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class DeQuantStub(Module):
    """Marks where quantized tensors turn back into float; an identity until :func:`convert`
    swaps it for ``quantized.DeQuantize``."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig is not None:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantWrapper(Module):
    """``dequant(module(quant(x)))``: the stubs around a whole ``module`` (which keeps its own
    ``qconfig``, if any, and passes it on to the stubs)."""

    def __init__(self, module):
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.add_module("quant", QuantStub(qconfig))
        self.add_module("dequant", DeQuantStub(qconfig))
        self.add_module("module", module)
        self.train(module.training)

    def forward(self, X):
        return self.dequant(self.module(self.quant(X)))
