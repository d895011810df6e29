"""Checking and normalising the non-tensor arguments of layers and ops (sizes, dims, rates).

One set of helpers serves every layer constructor and functional op, so every size
argument follows the same rule (PyTorch's): any integral type is accepted and stored as
a plain Python ``int`` -- ``int``, NumPy integers (``np.int64(3)``, ``np.int32``), a 0-d
integer tensor, any object with ``__index__`` -- while ``bool`` and floats (even ``3.0``)
are refused with a ``TypeError`` that names the layer and the argument. Values of the
right type but out of range raise ``ValueError``. Rates (dropout ``p``, ``eps``) accept
any real number and are stored as a plain ``float``.
"""
from __future__ import annotations

import numbers
import operator
from ..backend.errors import ArgumentError

__all__ = ["as_int", "as_ints", "as_int_or_ints", "as_float", "as_dim", "as_shape"]


def _describe(value) -> str:
    return f"{type(value).__name__} {value!r}"


def as_int(value, arg: str, owner: str, minimum: int | None = None) -> int:
    """``value`` as a plain ``int`` (any integral type); ``TypeError`` for bool/float/other.

    ``minimum`` (0 or 1 usually) gives a ``ValueError`` below it: "must be a positive int"
    (``minimum=1``) or "a non-negative int" (``minimum=0``).
    """
    if type(value) is int:  # the common case, decided without the protocol lookups below
        v = value
    else:
        if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # also numpy.bool
            raise TypeError(f"{owner}: {arg} must be an int, got bool {value!r}")
        try:
            v = operator.index(value)
        except TypeError:
            hint = f" (use {int(value)})" if isinstance(value, float) and value.is_integer() else ""
            raise TypeError(f"{owner}: {arg} must be an int, got {_describe(value)}{hint}") from None
    if minimum is not None and v < minimum:
        kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        raise ArgumentError(f"{owner}: {arg} must be {kind}, got {v}")
    return v


def _is_int_like(value) -> bool:
    return type(value) is int or (not isinstance(value, (bool, float)) and hasattr(type(value), "__index__"))


def as_ints(value, n: int, arg: str, owner: str) -> tuple:
    """An int (repeated ``n`` times) or a sequence of ``n`` ints as a tuple of plain ints
    (PyTorch's ``_pair``); ``TypeError`` otherwise."""
    if _is_int_like(value) and type(value).__name__ not in ("bool", "bool_"):
        return (as_int(value, arg, owner),) * n
    if isinstance(value, (tuple, list)):
        if len(value) == n:
            try:
                return tuple(as_int(v, arg, owner) for v in value)
            except TypeError:
                pass
        elif all(_is_int_like(v) for v in value):  # the right kind, the wrong length: a value error
            raise ArgumentError(f"{owner}: {arg} must be an int or a tuple of {n} ints, got {len(value)} "
                                f"values {tuple(value)!r}")
    raise TypeError(f"{owner}: {arg} must be an int or a tuple of {n} ints, got {value!r}")


def as_int_or_ints(value, n: int, arg: str, owner: str):
    """Like :func:`as_ints`, but keeps the user's form: an int stays an int, a sequence
    becomes a tuple (how PyTorch's pooling layers store ``kernel_size``)."""
    ints = as_ints(value, n, arg, owner)
    return ints if isinstance(value, (tuple, list)) else ints[0]


def as_dim(value, arg: str, owner: str, allow_none: bool = False):
    """An axis index (may be negative) as a plain int, or None when ``allow_none``."""
    if value is None and allow_none:
        return None
    return as_int(value, arg, owner)


def as_float(value, arg: str, owner: str, allow_none: bool = False):
    """Any real number (``0.1``, ``np.float32(0.1)``, ``1``) as a plain ``float``; bool and
    non-numbers raise ``TypeError``."""
    if value is None and allow_none:
        return None
    if type(value) is float:
        return value
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_") or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {arg} must be a number, got {_describe(value)}")
    return float(value)


def as_shape(value, arg: str, owner: str) -> tuple:
    """A size (one int) or a sequence of sizes as a tuple of plain ints (``LayerNorm(4)``,
    ``LayerNorm((3, 4))``); ``TypeError`` for bools, floats and non-sequences."""
    if type(value) is tuple and all(type(v) is int for v in value):  # already normalised (per-call path)
        return value
    if _is_int_like(value) or isinstance(value, bool):  # (a bool gets as_int's "got bool" TypeError)
        return (as_int(value, arg, owner),)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{owner}: {arg} must be an int or a sequence of ints, got {_describe(value)}")
    return tuple(as_int(v, arg, owner) for v in value)
