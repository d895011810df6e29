"""Data types: ``tn.float32``, ``tn.int64``, ... (NumPy's dtypes underneath; CuPy shares them).

``tn.float32`` is the default for floating data; ``tn.int64`` for integers (class labels,
token ids); ``tn.bool`` for masks. Only floating tensors can require gradients.

A tinynet dtype is a thin :class:`dtype` object around a NumPy dtype, so that it prints as
PyTorch's do (``tinynet.float32``) and has PyTorch's attributes (``is_floating_point``,
``itemsize``), while NumPy and CuPy accept it anywhere they take a dtype (they read its
``.dtype`` attribute) and it compares equal to the NumPy dtype it stands for
(``tn.float32 == np.float32``). Arrays keep NumPy dtypes; ``Tensor.dtype`` gives the
tinynet one.
"""
from __future__ import annotations

import builtins as _builtins

import numpy as _np


class dtype:
    """A tensor's data type (see the module docstring). One object per NumPy dtype."""

    __slots__ = ("dtype",)
    _CACHE: dict = {}

    def __new__(cls, spec):
        np_dtype = _np.dtype(spec)
        obj = cls._CACHE.get(np_dtype)
        if obj is None:
            obj = object.__new__(cls)
            object.__setattr__(obj, "dtype", np_dtype)
            cls._CACHE[np_dtype] = obj
        return obj

    def __getattr__(self, name):  # kind, itemsize, name, type, char, str, ... from NumPy's dtype
        return getattr(object.__getattribute__(self, "dtype"), name)

    def __setattr__(self, name, value):
        raise AttributeError("tinynet dtypes are immutable")

    def __reduce__(self):
        return (dtype, (self.dtype.name,))

    def __repr__(self):
        return f"tinynet.{self.dtype.name}"

    __str__ = __repr__

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self is other
        try:
            return self.dtype == _np.dtype(other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self.dtype)

    @property
    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self.dtype.kind in "fic"

    def to_numpy(self):
        """The NumPy dtype this stands for."""
        return self.dtype


def wrap(np_dtype) -> dtype:
    """The tinynet dtype of a NumPy dtype (``Tensor.dtype`` of an array's dtype)."""
    return dtype._CACHE.get(np_dtype) or dtype(np_dtype)


float16 = dtype("float16")
float32 = dtype("float32")
float64 = dtype("float64")
int8 = dtype("int8")
int16 = dtype("int16")
int32 = dtype("int32")
int64 = dtype("int64")
uint8 = dtype("uint8")
bool_ = dtype("bool")

half, float, double, long, int, short = float16, float32, float64, int64, int32, int16

_DEFAULT_FLOAT = [_np.dtype("float32")]


def get_default_dtype():
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return wrap(_DEFAULT_FLOAT[0])


def set_default_dtype(dtype):
    """Set the default floating dtype (float32 or float64)."""
    dtype = to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _DEFAULT_FLOAT[0] = _np.dtype(dtype)


def to_dtype(dtype):
    """Normalize a dtype spec (tn.float32, "float32", np.float32, float, ...) to a np.dtype."""
    if dtype is None:
        return None
    if dtype is _builtins.float:
        return _DEFAULT_FLOAT[0]
    if dtype is _builtins.int:
        return int64.dtype
    if dtype is _builtins.bool:
        return bool_.dtype
    try:
        result = _np.dtype(dtype)
    except TypeError:
        result = None
    # (With ml_dtypes imported -- onnx imports it -- NumPy also knows "bfloat16", "float8_*":
    # opaque kind-"V" types that tinynet's kernels and ops cannot compute with.)
    if result is None or result.kind == "V":
        if "bfloat16" in str(dtype):
            raise TypeError(BFLOAT16_MESSAGE) from None
        raise TypeError(f"unknown dtype {dtype!r}: expected tn.float32, tn.float64, tn.float16, tn.int64 "
                        "or tn.bool") from None
    return result


#: Why there is no ``tn.bfloat16`` (raised for ``tn.bfloat16`` and ``dtype="bfloat16"``).
BFLOAT16_MESSAGE = ("bfloat16 is not supported: tinynet stores tensors as NumPy/CuPy arrays and NumPy has no "
                    "bfloat16 type; use tn.float16 (model.half()) or tn.float32")


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def infer_dtype(array_dtype, from_python: bool):
    """The dtype a new tensor gets from data, as PyTorch's ``torch.tensor``: Python floats ->
    the default float, Python ints -> int64; NumPy arrays and scalars keep their dtype."""
    kind = array_dtype.kind
    if kind == "f":
        return get_default_dtype() if from_python else array_dtype
    if kind in "iu":
        return int64 if from_python else array_dtype
    if kind == "b":
        return bool_
    if kind == "c":
        raise TypeError("complex tensors are not supported")
    raise TypeError(f"cannot make a tensor from data of dtype {array_dtype}")
