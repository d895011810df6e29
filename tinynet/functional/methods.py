"""Every Tensor operator and math method (``x + y``, ``x.exp()``, ``x[key]``), bound in one place.

One table, read top to bottom, says which op each method is. It is installed once, by
``tinynet/functional/__init__.py``, after every op module has been imported (Chainer
installs its variable methods the same way; needle binds them late): op modules import
only the modules below them and never this one, so the import graph has no circle.
Binding here rather than in ``tensor.py`` keeps imports one-way: the tensor layer never
imports the functional one. The methods are only *called* at run time, by which point
``import tinynet`` has installed them.
"""
from __future__ import annotations

from ..tensor.tensor import Tensor
from . import (activation, bitwise, conversion, distance, elementwise as ew, indexing, join, layout,
               linalg, pointwise, reduction, sampling, scan, scatter, shape, sorting)
from .inplace import inplace


def reflected(fn):
    """The reflected form of a binary op: ``2 - x`` calls ``x.__rsub__(2)``, i.e. ``sub(2, x)``."""
    return lambda self, other: fn(other, self)


METHODS = {
    # operators
    "__add__": ew.add, "__radd__": reflected(ew.add),
    "__sub__": ew.sub, "__rsub__": reflected(ew.sub),
    "__mul__": ew.mul, "__rmul__": reflected(ew.mul),
    "__truediv__": ew.div, "__rtruediv__": reflected(ew.div),
    "__pow__": ew.pow, "__rpow__": reflected(ew.pow),
    "__matmul__": linalg.matmul, "__rmatmul__": reflected(linalg.matmul),
    "__neg__": ew.neg, "__pos__": lambda self: self, "__abs__": ew.abs,
    "__eq__": ew.eq, "__ne__": ew.ne, "__lt__": ew.lt, "__le__": ew.le, "__gt__": ew.gt, "__ge__": ew.ge,
    "__and__": ew.logical_and, "__or__": ew.logical_or, "__invert__": ew.logical_not,
    "__getitem__": indexing.getitem,
    # elementwise
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "pow": ew.pow, "neg": ew.neg,
    "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs, "clip": ew.clip, "clamp": ew.clip,
    "maximum": ew.maximum, "minimum": ew.minimum, "sign": ew.sign,
    "eq": ew.eq, "ne": ew.ne, "lt": ew.lt, "le": ew.le, "gt": ew.gt, "ge": ew.ge,
    "isnan": ew.isnan, "isfinite": ew.isfinite,
    "matmul": linalg.matmul, "dot": linalg.dot,
    # activations
    "sigmoid": activation.sigmoid, "relu": activation.relu, "tanh": activation.tanh,
    "softmax": activation.softmax, "log_softmax": activation.log_softmax,
    "leaky_relu": activation.leaky_relu, "gelu": activation.gelu, "silu": activation.silu,
    "softplus": activation.softplus, "elu": activation.elu, "hardtanh": activation.hardtanh,
    "erf": activation.erf,
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
    # indexing, joining and cutting
    "gather": indexing.gather, "index_select": indexing.index_select, "masked_fill": indexing.masked_fill,
    "take": indexing.take, "split": join.split, "chunk": join.chunk,
    # conversion
    "to": conversion.to, "cpu": conversion.to_cpu, "cuda": conversion.to_cuda, "clone": conversion.clone,
    "contiguous": conversion.contiguous,
    "float": lambda self: conversion.to(self, dtype="float32"),
    "double": lambda self: conversion.to(self, dtype="float64"),
    "half": lambda self: conversion.to(self, dtype="float16"),
    "long": lambda self: conversion.to(self, dtype="int64"),
    "int": lambda self: conversion.to(self, dtype="int32"),
    "bool": lambda self: conversion.to(self, dtype="bool"),
    "type": lambda self, dtype: conversion.to(self, dtype=dtype),
    # pointwise math, rounding, bitwise (pointwise.py, bitwise.py)
    # indexing, masking, scatter (indexing.py, scatter.py)
    # sorting, scans, reductions, sampling (sorting.py, scan.py, reduction.py, sampling.py)
    # layout and linear algebra (layout.py, shape.py, join.py, linalg.py)
    # activations, distances (activation.py, distance.py)
}


def bind(table: dict):
    """Install ``{method name: function}`` on Tensor (and record it in :data:`METHODS`).

    tinynet calls it once, below, with the whole table; code outside tinynet may use it to
    add methods of its own.
    """
    METHODS.update(table)
    for name, fn in table.items():
        setattr(Tensor, name, fn)


bind(METHODS)
