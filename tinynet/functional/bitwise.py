"""Bitwise ops on integer and bool tensors (``& | ^ ~ << >>``), as PyTorch's.

On integer tensors they act on the two's-complement bits; on bool tensors ``&``, ``|``, ``^``
and ``~`` are the logical ops (``~mask`` inverts a mask). Operands are promoted first
(PyTorch's rules: a bool tensor with a Python int gives int64). Floating-point inputs are a
TypeError: there are no bits to combine (use ``logical_and`` and friends for truth values).
No gradients: the results are integers.
"""
from __future__ import annotations

from ..autograd import tracing as _tracing
from ..backend.errors import DTypeError, DeviceError
from ..tensor.tensor import Tensor
from ._util import broadcast_error, pair

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
    "bitwise_xor",
]


def _check_int(t, op):
    if t.array.dtype.kind not in "iub":
        raise DTypeError(
            f"{op}: expected integer or bool tensors, got {t.dtype} (shape {tuple(t.shape)}); bitwise ops have no "
            "meaning for floating point. Convert (`x.long()`), or use logical_and/logical_or/logical_xor "
            "for truth values"
        )


def _binary(input, other, ufunc, op, bool_ok=True):
    a, b = pair(input, other, op)
    _check_int(a, op)
    if a.device is not b.device:
        raise DeviceError(f"{op}: tensors on {a.device.type} and {b.device.type}; move one with `.to()`")
    xp = a.device.xp
    x, y = a.array, b.array
    if not bool_ok and x.dtype.kind == "b":
        raise DTypeError(f"{op}: not implemented for bool tensors (as in PyTorch); convert first (`x.long()`)")
    try:
        out = getattr(xp, ufunc)(x, y)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    result = Tensor._make(out.astype(x.dtype, copy=False), a.device)
    if _tracing.tracer is not None:  # no Op.apply here (no gradient): tell an exporter (tinynet.onnx)
        _tracing.note(op, (a, b), {}, result)
    return result


def bitwise_and(input, other):
    """input & other: bitwise AND of integers, logical AND of bools."""
    return _binary(input, other, "bitwise_and", "bitwise_and")


def bitwise_or(input, other):
    """input | other: bitwise OR of integers, logical OR of bools."""
    return _binary(input, other, "bitwise_or", "bitwise_or")


def bitwise_xor(input, other):
    """input ^ other: bitwise XOR of integers, logical XOR of bools."""
    return _binary(input, other, "bitwise_xor", "bitwise_xor")


def bitwise_not(input):
    """~input: bitwise NOT of integers (``~x == -x - 1`` for signed), logical NOT of bools."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not: expected a Tensor, got {type(input).__name__}")
    _check_int(input, "bitwise_not")
    result = Tensor._make(input.device.xp.invert(input.array), input.device)
    if _tracing.tracer is not None:  # no gradient, no Op.apply: tell an exporter (tinynet.onnx)
        _tracing.note("bitwise_not", (input,), {}, result)
    return result


def bitwise_left_shift(input, other):
    """input << other: the bits moved left by ``other`` (input * 2**other for small shifts)."""
    return _binary(input, other, "left_shift", "bitwise_left_shift", bool_ok=False)


def bitwise_right_shift(input, other):
    """input >> other: the bits moved right by ``other`` (arithmetic shift: floor(input / 2**other))."""
    return _binary(input, other, "right_shift", "bitwise_right_shift", bool_ok=False)
