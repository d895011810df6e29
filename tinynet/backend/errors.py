"""Errors of the device layer.

design.md: shape and device errors raise a class deriving from both ``ValueError`` and
``RuntimeError`` (PyTorch raises ``RuntimeError``; code written for either catches it).
"""
from __future__ import annotations


class DeviceError(ValueError, RuntimeError):
    """A device that is malformed, unknown, absent (``"cuda:7"`` on a one-GPU machine) or
    unusable here. Both a ``ValueError`` and a ``RuntimeError``."""
