"""Data types: tinynet uses NumPy's dtype objects (CuPy shares them).

``tn.float32`` is the default for floating data; ``tn.int64`` for integers (class labels,
token ids); ``tn.bool`` for masks. Only floating tensors can require gradients.
"""
from __future__ import annotations

import builtins as _builtins

import numpy as _np

float16 = _np.dtype("float16")
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int32 = _np.dtype("int32")
int64 = _np.dtype("int64")
uint8 = _np.dtype("uint8")
bool_ = _np.dtype("bool")

half, float, double, long, int = float16, float32, float64, int64, int32

_DEFAULT_FLOAT = [float32]


def get_default_dtype():
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return _DEFAULT_FLOAT[0]


def set_default_dtype(dtype):
    """Set the default floating dtype (float32 or float64)."""
    dtype = to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _DEFAULT_FLOAT[0] = dtype


def to_dtype(dtype):
    """Normalize a dtype spec (tn.float32, "float32", np.float32, float, ...) to a np.dtype."""
    if dtype is None:
        return None
    if dtype is _builtins.float:
        return get_default_dtype()
    if dtype is _builtins.int:
        return int64
    try:
        return _np.dtype(dtype)
    except TypeError:
        if "bfloat16" in str(dtype):
            raise TypeError(BFLOAT16_MESSAGE) from None
        raise TypeError(f"unknown dtype {dtype!r}: expected tn.float32, tn.float64, tn.float16, tn.int64 "
                        "or tn.bool") from None


#: Why there is no ``tn.bfloat16`` (raised for ``tn.bfloat16`` and ``dtype="bfloat16"``).
BFLOAT16_MESSAGE = ("bfloat16 is not supported: tinynet stores tensors as NumPy/CuPy arrays and NumPy has no "
                    "bfloat16 type; use tn.float16 (model.half()) or tn.float32")


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def infer_dtype(array_dtype, from_python: bool):
    """The dtype a new tensor gets from data: Python floats -> default float, ints -> int64."""
    kind = array_dtype.kind
    if kind == "f":
        return get_default_dtype() if from_python else array_dtype
    if kind in "iu":
        return int64 if (from_python or kind == "i" and array_dtype.itemsize != 8) and array_dtype != uint8 else array_dtype
    if kind == "b":
        return bool_
    if kind == "c":
        raise TypeError("complex tensors are not supported")
    raise TypeError(f"cannot make a tensor from data of dtype {array_dtype}")
