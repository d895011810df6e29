"""The error classes user-facing checks raise for shapes, devices and dtypes.

PyTorch raises ``RuntimeError`` for a shape, device or dtype mismatch where NumPy-minded
code expects ``ValueError`` (``TypeError`` for dtypes); these classes are both, so code
written for either catches them.
"""
from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op or layer (wrong number of features, axes that cannot
    broadcast, a target of the wrong size). Both a ``ValueError`` and a ``RuntimeError``."""


class DeviceError(ValueError, RuntimeError):
    """A device that is malformed, unknown, absent (``"cuda:7"`` on a one-GPU machine) or
    unusable here, or tensors of one op on different devices. Both a ``ValueError`` and a
    ``RuntimeError``."""


class DTypeError(TypeError, RuntimeError):
    """A tensor of a dtype the op can't take (an integer tensor into a float-only layer, a
    float tensor as an index, mixed dtypes where they must match). PyTorch raises
    ``RuntimeError`` for these ("not implemented for 'Long'", "expected scalar type Float"),
    Python code expects ``TypeError``: this is both."""


class ArgumentError(ValueError, TypeError, RuntimeError):
    """An argument an op can't take (an unknown mode, a step of 0, a padding tuple of the
    wrong length, min and max both None). PyTorch's ops raise ``RuntimeError`` for these;
    Python code expects ``ValueError`` (or ``TypeError`` for a tuple of the wrong length):
    this is all three, so code written for either library catches it."""
