"""The error classes user-facing checks raise for shapes and devices.

PyTorch raises ``RuntimeError`` for a shape or device mismatch where NumPy-minded code
expects ``ValueError``; these classes are both, so code written for either catches them.
"""
from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op or layer (wrong number of features, axes that cannot
    broadcast, a target of the wrong size). Both a ``ValueError`` and a ``RuntimeError``."""


class DeviceError(ValueError, RuntimeError):
    """A device that is malformed, unknown, absent (``"cuda:7"`` on a one-GPU machine) or
    unusable here, or tensors of one op on different devices. Both a ``ValueError`` and a
    ``RuntimeError``."""
