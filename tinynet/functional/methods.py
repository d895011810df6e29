"""Binds functional ops onto Tensor as operators and methods (``x + y``, ``x.exp()``).

One table, read top to bottom, says which op each method is. Binding here (rather than
in tensor.py) keeps imports one-way: the tensor layer never imports the functional one.
Modules that add ops extend ``METHODS`` through :func:`bind`.
"""
from __future__ import annotations

from ..tensor.tensor import Tensor
from . import conversion, elementwise as ew, linalg, reduction, shape


def _r(fn):
    """The reflected form of a binary op: ``2 - x`` calls ``x.__rsub__(2)``."""
    return lambda self, other: fn(other, self)


METHODS = {
    # operators
    "__add__": ew.add, "__radd__": _r(ew.add),
    "__sub__": ew.sub, "__rsub__": _r(ew.sub),
    "__mul__": ew.mul, "__rmul__": _r(ew.mul),
    "__truediv__": ew.div, "__rtruediv__": _r(ew.div),
    "__pow__": ew.pow, "__rpow__": _r(ew.pow),
    "__matmul__": linalg.matmul, "__rmatmul__": _r(linalg.matmul),
    "__neg__": ew.neg, "__pos__": lambda self: self, "__abs__": ew.abs,
    "__eq__": ew.eq, "__ne__": ew.ne, "__lt__": ew.lt, "__le__": ew.le, "__gt__": ew.gt, "__ge__": ew.ge,
    "__and__": ew.logical_and, "__or__": ew.logical_or, "__invert__": ew.logical_not,
    # elementwise
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "pow": ew.pow, "neg": ew.neg,
    "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs, "clip": ew.clip, "clamp": ew.clip,
    "maximum": ew.maximum, "minimum": ew.minimum, "sign": ew.sign,
    "eq": ew.eq, "ne": ew.ne, "lt": ew.lt, "le": ew.le, "gt": ew.gt, "ge": ew.ge,
    "isnan": ew.isnan, "isfinite": ew.isfinite,
    "matmul": linalg.matmul, "dot": linalg.dot,
    # reductions
    "sum": reduction.sum, "mean": reduction.mean,
    "max": reduction.max, "min": reduction.min, "amax": reduction.amax, "amin": reduction.amin,
    "argmax": reduction.argmax, "argmin": reduction.argmin, "var": reduction.var, "std": reduction.std,
    "logsumexp": reduction.logsumexp, "prod": reduction.prod, "all": reduction.all, "any": reduction.any,
    # shape
    "reshape": shape.reshape, "view": shape.reshape, "permute": shape.permute,
    "transpose": shape.transpose, "swapaxes": shape.swapaxes, "expand": shape.expand,
    "broadcast_to": shape.broadcast_to, "unsqueeze": shape.unsqueeze, "squeeze": shape.squeeze,
    "flatten": shape.flatten,
    # conversion
    "to": conversion.to, "cpu": conversion.cpu, "cuda": conversion.cuda, "clone": conversion.clone,
    "contiguous": conversion.contiguous,
    "float": lambda self: conversion.to(self, dtype="float32"),
    "double": lambda self: conversion.to(self, dtype="float64"),
    "half": lambda self: conversion.to(self, dtype="float16"),
    "long": lambda self: conversion.to(self, dtype="int64"),
    "int": lambda self: conversion.to(self, dtype="int32"),
    "bool": lambda self: conversion.to(self, dtype="bool"),
    "type": lambda self, dtype: conversion.to(self, dtype=dtype),
}


def bind(table: dict):
    """Install ``{method name: function}`` on Tensor (used by every ops module)."""
    METHODS.update(table)
    for name, fn in table.items():
        setattr(Tensor, name, fn)


bind(METHODS)
