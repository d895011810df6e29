"""Errors raised by :func:`tinynet.onnx.export` (PyTorch's ``torch.onnx.errors`` names)."""
from __future__ import annotations


class OnnxExporterError(RuntimeError):
    """The model cannot be exported as it is (a traced value the graph cannot express)."""


class UnsupportedOperatorError(OnnxExporterError):
    """A traced op has no ONNX mapping; the message names the op and where it was called."""
