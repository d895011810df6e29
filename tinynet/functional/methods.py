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
from . import (activation, bitwise, conversion, distance, elementwise as ew, folding, indexing, join, layout,
               linalg, pointwise, reduction, sampling, scan, scattering as scatter, shape, sorting)
from .inplace import inplace
from ..autograd.engine import register_post_accumulate_grad_hook
from . import introspection, special, statistics  # (tensor odds-and-ends, special functions, statistics)


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
    "__and__": bitwise.bitwise_and, "__or__": bitwise.bitwise_or, "__invert__": bitwise.bitwise_not,
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
    "reshape": shape.reshape, "view": shape.view, "permute": shape.permute,
    "transpose": shape.transpose, "swapaxes": shape.swapaxes, "swapdims": shape.swapdims, "expand": shape.expand,
    "broadcast_to": shape.broadcast_to, "unsqueeze": shape.unsqueeze, "squeeze": shape.squeeze,
    "flatten": shape.flatten,
    # indexing, joining and cutting
    "gather": indexing.gather, "index_select": indexing.index_select, "masked_fill": indexing.masked_fill,
    "take": indexing.take, "split": join.split, "chunk": join.chunk,
    # conversion
    "to": conversion.to, "cpu": conversion.to_cpu, "cuda": conversion.to_cuda,
    "contiguous": conversion.contiguous,
    "float": lambda self: conversion.to(self, dtype="float32"),
    "double": lambda self: conversion.to(self, dtype="float64"),
    "half": lambda self: conversion.to(self, dtype="float16"),
    "long": lambda self: conversion.to(self, dtype="int64"),
    "int": lambda self: conversion.to(self, dtype="int32"),
    "bool": lambda self: conversion.to(self, dtype="bool"),
    "type": conversion.type_,
    "unfold": folding.tensor_unfold,  # Tensor.unfold: sliding windows along one axis (not F.unfold)
    "byte": lambda self: conversion.to(self, dtype="uint8"),
    "char": lambda self: conversion.to(self, dtype="int8"),
    "short": lambda self: conversion.to(self, dtype="int16"),
    # pointwise math, rounding, bitwise (pointwise.py, bitwise.py)
    "__xor__": bitwise.bitwise_xor, "__lshift__": bitwise.bitwise_left_shift,
    "__rshift__": bitwise.bitwise_right_shift,
    "__rand__": reflected(bitwise.bitwise_and), "__ror__": reflected(bitwise.bitwise_or),
    "__rxor__": reflected(bitwise.bitwise_xor), "__rlshift__": reflected(bitwise.bitwise_left_shift),
    "__rrshift__": reflected(bitwise.bitwise_right_shift),
    "__iand__": inplace(bitwise.bitwise_and, "__iand__"), "__ior__": inplace(bitwise.bitwise_or, "__ior__"),
    "__ixor__": inplace(bitwise.bitwise_xor, "__ixor__"),
    "__ilshift__": inplace(bitwise.bitwise_left_shift, "__ilshift__"),
    "__irshift__": inplace(bitwise.bitwise_right_shift, "__irshift__"),
    "bitwise_and": bitwise.bitwise_and, "bitwise_or": bitwise.bitwise_or, "bitwise_xor": bitwise.bitwise_xor,
    "bitwise_not": bitwise.bitwise_not, "bitwise_left_shift": bitwise.bitwise_left_shift,
    "bitwise_right_shift": bitwise.bitwise_right_shift,
    "bitwise_and_": inplace(bitwise.bitwise_and, "bitwise_and_"),
    "bitwise_or_": inplace(bitwise.bitwise_or, "bitwise_or_"),
    "bitwise_xor_": inplace(bitwise.bitwise_xor, "bitwise_xor_"),
    "bitwise_not_": inplace(bitwise.bitwise_not, "bitwise_not_"),
    "bitwise_left_shift_": inplace(bitwise.bitwise_left_shift, "bitwise_left_shift_"),
    "bitwise_right_shift_": inplace(bitwise.bitwise_right_shift, "bitwise_right_shift_"),
    "logical_and": ew.logical_and, "logical_or": ew.logical_or, "logical_xor": ew.logical_xor,
    "logical_not": ew.logical_not,
    "logical_and_": inplace(ew.logical_and, "logical_and_"), "logical_or_": inplace(ew.logical_or, "logical_or_"),
    "logical_xor_": inplace(ew.logical_xor, "logical_xor_"), "logical_not_": inplace(ew.logical_not, "logical_not_"),
    "__floordiv__": ew.floor_divide, "__rfloordiv__": reflected(ew.floor_divide),
    "__mod__": ew.remainder, "__rmod__": reflected(ew.remainder),
    "__iadd__": inplace(ew.add, "__iadd__"), "__isub__": inplace(ew.sub, "__isub__"),
    "__imul__": inplace(ew.mul, "__imul__"), "__itruediv__": inplace(ew.div, "__itruediv__"),
    "__ifloordiv__": inplace(ew.floor_divide, "__ifloordiv__"), "__imod__": inplace(ew.remainder, "__imod__"),
    "__ipow__": inplace(ew.pow, "__ipow__"),
    "add_": inplace(ew.add, "add_"), "sub_": inplace(ew.sub, "sub_"), "mul_": inplace(ew.mul, "mul_"),
    "div_": inplace(ew.div, "div_"), "pow_": inplace(ew.pow, "pow_"), "neg_": inplace(ew.neg, "neg_"),
    "abs_": inplace(ew.abs, "abs_"), "exp_": inplace(ew.exp, "exp_"), "log_": inplace(ew.log, "log_"),
    "sqrt_": inplace(ew.sqrt, "sqrt_"), "sign_": inplace(ew.sign, "sign_"),
    "subtract": ew.sub, "multiply": ew.mul, "divide": ew.div, "true_divide": ew.true_divide,
    "negative": ew.neg, "absolute": ew.abs,
    "subtract_": inplace(ew.sub, "subtract_"), "multiply_": inplace(ew.mul, "multiply_"),
    "divide_": inplace(ew.div, "divide_"), "true_divide_": inplace(ew.true_divide, "true_divide_"),
    "negative_": inplace(ew.neg, "negative_"), "absolute_": inplace(ew.abs, "absolute_"),
    "floor_divide": ew.floor_divide, "remainder": ew.remainder, "fmod": ew.fmod,
    "floor_divide_": inplace(ew.floor_divide, "floor_divide_"), "remainder_": inplace(ew.remainder, "remainder_"),
    "fmod_": inplace(ew.fmod, "fmod_"),
    "clamp_min": ew.clamp_min, "clamp_max": ew.clamp_max,
    "clamp_": inplace(ew.clamp, "clamp_"), "clip_": inplace(ew.clamp, "clip_"),
    "clamp_min_": inplace(ew.clamp_min, "clamp_min_"), "clamp_max_": inplace(ew.clamp_max, "clamp_max_"),
    "not_equal": ew.ne, "less": ew.lt, "less_equal": ew.le, "greater": ew.gt, "greater_equal": ew.ge,
    "isinf": ew.isinf, "isposinf": ew.isposinf, "isneginf": ew.isneginf,
    "isclose": ew.isclose, "allclose": ew.allclose,
    "addcmul": pointwise.addcmul, "addcdiv": pointwise.addcdiv,
    "addcmul_": inplace(pointwise.addcmul, "addcmul_"), "addcdiv_": inplace(pointwise.addcdiv, "addcdiv_"),
    "lerp": pointwise.lerp, "lerp_": inplace(pointwise.lerp, "lerp_"),
    "nan_to_num": pointwise.nan_to_num, "nan_to_num_": inplace(pointwise.nan_to_num, "nan_to_num_"),
    "erf_": inplace(activation.erf, "erf_"),
    "deg2rad": pointwise.deg2rad, "deg2rad_": inplace(pointwise.deg2rad, "deg2rad_"),
    "rad2deg": pointwise.rad2deg, "rad2deg_": inplace(pointwise.rad2deg, "rad2deg_"),
    "float_power": pointwise.float_power, "float_power_": pointwise._float_power_inplace,
    "xlogy": pointwise.xlogy, "xlogy_": inplace(pointwise.xlogy, "xlogy_"),
    "sinc": pointwise.sinc, "sinc_": inplace(pointwise.sinc, "sinc_"), "positive": pointwise.positive,
    "sin": pointwise.sin, "sin_": inplace(pointwise.sin, "sin_"),
    "cos": pointwise.cos, "cos_": inplace(pointwise.cos, "cos_"),
    "tan": pointwise.tan, "tan_": inplace(pointwise.tan, "tan_"),
    "asin": pointwise.asin, "asin_": inplace(pointwise.asin, "asin_"),
    "acos": pointwise.acos, "acos_": inplace(pointwise.acos, "acos_"),
    "atan": pointwise.atan, "atan_": inplace(pointwise.atan, "atan_"),
    "arcsin": pointwise.arcsin, "arcsin_": inplace(pointwise.arcsin, "arcsin_"),
    "arccos": pointwise.arccos, "arccos_": inplace(pointwise.arccos, "arccos_"),
    "arctan": pointwise.arctan, "arctan_": inplace(pointwise.arctan, "arctan_"),
    "sinh": pointwise.sinh, "sinh_": inplace(pointwise.sinh, "sinh_"),
    "cosh": pointwise.cosh, "cosh_": inplace(pointwise.cosh, "cosh_"),
    "asinh": pointwise.asinh, "asinh_": inplace(pointwise.asinh, "asinh_"),
    "acosh": pointwise.acosh, "acosh_": inplace(pointwise.acosh, "acosh_"),
    "atanh": pointwise.atanh, "atanh_": inplace(pointwise.atanh, "atanh_"),
    "arcsinh": pointwise.arcsinh, "arcsinh_": inplace(pointwise.arcsinh, "arcsinh_"),
    "arccosh": pointwise.arccosh, "arccosh_": inplace(pointwise.arccosh, "arccosh_"),
    "arctanh": pointwise.arctanh, "arctanh_": inplace(pointwise.arctanh, "arctanh_"),
    "atan2": pointwise.atan2, "atan2_": inplace(pointwise.atan2, "atan2_"),
    "arctan2": pointwise.arctan2, "arctan2_": inplace(pointwise.arctan2, "arctan2_"),
    "round": pointwise.round, "round_": inplace(pointwise.round, "round_"),
    "floor": pointwise.floor, "floor_": inplace(pointwise.floor, "floor_"),
    "ceil": pointwise.ceil, "ceil_": inplace(pointwise.ceil, "ceil_"),
    "trunc": pointwise.trunc, "trunc_": inplace(pointwise.trunc, "trunc_"),
    "fix": pointwise.fix, "fix_": inplace(pointwise.fix, "fix_"),
    "frac": pointwise.frac, "frac_": inplace(pointwise.frac, "frac_"),
    "sgn": pointwise.sgn, "sgn_": inplace(pointwise.sgn, "sgn_"),
    "copysign": pointwise.copysign, "copysign_": inplace(pointwise.copysign, "copysign_"),
    "rsqrt": pointwise.rsqrt, "rsqrt_": inplace(pointwise.rsqrt, "rsqrt_"),
    "log2": pointwise.log2, "log2_": inplace(pointwise.log2, "log2_"),
    "log10": pointwise.log10, "log10_": inplace(pointwise.log10, "log10_"),
    "log1p": pointwise.log1p, "log1p_": inplace(pointwise.log1p, "log1p_"),
    "expm1": pointwise.expm1, "expm1_": inplace(pointwise.expm1, "expm1_"),
    "exp2": pointwise.exp2, "exp2_": inplace(pointwise.exp2, "exp2_"), "logaddexp": pointwise.logaddexp,
    "logaddexp2": pointwise.logaddexp2, "hypot": pointwise.hypot, "hypot_": inplace(pointwise.hypot, "hypot_"),
    "erfc": pointwise.erfc, "erfc_": inplace(pointwise.erfc, "erfc_"),
    "erfinv": pointwise.erfinv, "erfinv_": inplace(pointwise.erfinv, "erfinv_"),
    "reciprocal": pointwise.reciprocal, "reciprocal_": inplace(pointwise.reciprocal, "reciprocal_"),
    "square": pointwise.square, "square_": inplace(pointwise.square, "square_"),
    # indexing, masking, scatter (indexing.py, scatter.py)
    "__setitem__": indexing.setitem_method,
    "masked_fill_": indexing.masked_fill_, "masked_scatter": indexing.masked_scatter,
    "masked_scatter_": indexing.masked_scatter_, "masked_select": indexing.masked_select,
    "index_fill": indexing.index_fill, "index_fill_": indexing.index_fill_,
    "index_put": indexing.index_put, "index_put_": indexing.index_put_,
    "nonzero": indexing.nonzero, "argwhere": indexing.argwhere, "take_along_dim": indexing.take_along_dim,
    "tril": indexing.tril, "tril_": indexing.tril_, "triu": indexing.triu, "triu_": indexing.triu_,
    "where": lambda self, condition, other: ew.where(condition, self, other),
    "scatter": scatter.scatter, "scatter_": scatter.scatter_, "scatter_add": scatter.scatter_add,
    "scatter_add_": scatter.scatter_add_, "scatter_reduce": scatter.scatter_reduce,
    "scatter_reduce_": scatter.scatter_reduce_, "index_add": scatter.index_add, "index_add_": scatter.index_add_,
    "index_copy": scatter.index_copy, "index_copy_": scatter.index_copy_, "index_reduce": scatter.index_reduce,
    "index_reduce_": scatter.index_reduce_,
    # sorting, scans, reductions, sampling (sorting.py, scan.py, reduction.py, sampling.py)
    "nansum": reduction.nansum, "nanmean": reduction.nanmean, "count_nonzero": reduction.count_nonzero,
    "aminmax": reduction.aminmax,
    "sort": sorting.sort, "argsort": sorting.argsort, "msort": sorting.msort, "topk": sorting.topk,
    "kthvalue": sorting.kthvalue, "median": sorting.median, "nanmedian": sorting.nanmedian,
    "mode": sorting.mode, "unique": sorting.unique, "unique_consecutive": sorting.unique_consecutive,
    "cumsum": scan.cumsum, "cumprod": scan.cumprod, "cummax": scan.cummax, "cummin": scan.cummin,
    "logcumsumexp": scan.logcumsumexp,
    "cumsum_": inplace(scan.cumsum, "cumsum_"), "cumprod_": inplace(scan.cumprod, "cumprod_"),
    "bernoulli": sampling.bernoulli, "multinomial": sampling.multinomial,
    "bernoulli_": inplace(sampling.bernoulli_fill, "bernoulli_"),
    "uniform_": inplace(sampling.uniform_fill, "uniform_"), "normal_": inplace(sampling.normal_fill, "normal_"),
    "random_": inplace(sampling.random_fill, "random_"),
    "exponential_": inplace(sampling.exponential_fill, "exponential_"),
    "geometric_": inplace(sampling.geometric_fill, "geometric_"),
    "log_normal_": inplace(sampling.log_normal_fill, "log_normal_"),
    "cauchy_": inplace(sampling.cauchy_fill, "cauchy_"),
    # layout and linear algebra (layout.py, shape.py, join.py, linalg.py)
    "repeat": layout.repeat, "repeat_interleave": layout.repeat_interleave, "tile": layout.tile,
    "flip": layout.flip, "fliplr": layout.fliplr, "flipud": layout.flipud, "roll": layout.roll,
    "rot90": layout.rot90, "narrow": layout.narrow, "select": layout.select, "unbind": layout.unbind,
    "unflatten": layout.unflatten, "movedim": layout.movedim, "moveaxis": layout.moveaxis,
    "diag": layout.diag, "diagonal": layout.diagonal, "diag_embed": layout.diag_embed, "t": layout.t,
    "view_as": layout.view_as, "expand_as": layout.expand_as, "reshape_as": layout.reshape_as,
    "type_as": layout.type_as, "new_zeros": layout.new_zeros, "new_ones": layout.new_ones,
    "new_full": layout.new_full, "new_empty": layout.new_empty, "new_tensor": layout.new_tensor,
    "clone": layout.clone,  # conversion.clone plus memory_format=
    "tensor_split": join.tensor_split, "hsplit": join.hsplit, "vsplit": join.vsplit, "dsplit": join.dsplit,
    "ravel": shape.ravel, "narrow_copy": layout.narrow_copy,
    "mm": linalg.mm, "bmm": linalg.bmm, "mv": linalg.mv, "vdot": linalg.vdot, "inner": linalg.inner,
    "outer": linalg.outer, "ger": linalg.ger, "kron": linalg.kron, "trace": linalg.trace,
    "addmm": linalg.addmm, "addmv": linalg.addmv, "addr": linalg.addr, "addbmm": linalg.addbmm,
    "baddbmm": linalg.baddbmm, "addmm_": inplace(linalg.addmm, "addmm_"),
    "addmv_": inplace(linalg.addmv, "addmv_"), "addr_": inplace(linalg.addr, "addr_"),
    "addbmm_": inplace(linalg.addbmm, "addbmm_"), "baddbmm_": inplace(linalg.baddbmm, "baddbmm_"),
    "norm": linalg.norm, "dist": linalg.dist, "det": linalg.det, "inverse": linalg.inverse,
    "slogdet": linalg.slogdet, "cholesky": linalg.cholesky, "matrix_power": linalg.matrix_power,
    "logdet": linalg.logdet, "cross": linalg.cross, "matrix_exp": linalg.matrix_exp,
    # activations, distances (activation.py, distance.py)
    "hardshrink": activation.hardshrink, "prelu": activation.prelu,
    "relu_": inplace(activation.relu, "relu_"), "sigmoid_": inplace(activation.sigmoid, "sigmoid_"),
    "tanh_": inplace(activation.tanh, "tanh_"),
    # introspection, special functions, statistics (introspection.py, special.py, statistics.py, pointwise.py)
    "is_signed": introspection.is_signed, "is_same_size": introspection.is_same_size,
    "sum_to_size": introspection.sum_to_size, "retains_grad": property(introspection.retains_grad),
    "real": property(introspection.real), "imag": property(introspection.imag), "conj": introspection.conj,
    "conj_physical": introspection.conj_physical, "conj_physical_": introspection.conj_physical_method,
    "is_conj": introspection.is_conj, "resolve_conj": introspection.resolve_conj,
    "resolve_neg": introspection.resolve_neg, "is_nonzero": introspection.is_nonzero,
    "eq_": inplace(ew.eq, "eq_"), "ne_": inplace(ew.ne, "ne_"), "lt_": inplace(ew.lt, "lt_"),
    "le_": inplace(ew.le, "le_"), "gt_": inplace(ew.gt, "gt_"), "ge_": inplace(ew.ge, "ge_"),
    "not_equal_": inplace(ew.ne, "not_equal_"), "less_": inplace(ew.lt, "less_"),
    "less_equal_": inplace(ew.le, "less_equal_"), "greater_": inplace(ew.gt, "greater_"),
    "greater_equal_": inplace(ew.ge, "greater_equal_"),
    "put": introspection.put, "put_": introspection.put_method, "fill_diagonal_": introspection.fill_diagonal_method,
    "lgamma": special.lgamma, "lgamma_": special.lgamma_, "digamma": special.digamma,
    "digamma_": special.digamma_, "polygamma": special._polygamma_method, "polygamma_": special.polygamma_,
    "mvlgamma": special.mvlgamma, "mvlgamma_": special.mvlgamma_, "i0": special.i0, "i0_": special.i0_method,
    "logit": special.logit, "logit_": special.logit_method, "heaviside": special.heaviside,
    "heaviside_": special.heaviside_, "signbit": special.signbit, "fmax": special.fmax, "fmin": special.fmin,
    "gcd": special.gcd, "gcd_": special.gcd_method, "lcm": special.lcm, "lcm_": special.lcm_method,
    "ldexp": special.ldexp, "ldexp_": special.ldexp_method, "frexp": special.frexp,
    "nextafter": special.nextafter, "nextafter_": special.nextafter_,
    "bincount": statistics.bincount, "histc": statistics.histc, "histogram": statistics.histogram,
    "diff": statistics.diff, "quantile": statistics.quantile, "nanquantile": statistics.nanquantile,
    "cov": statistics.cov, "corrcoef": statistics.corrcoef, "renorm": statistics.renorm,
    "renorm_": statistics.renorm_,
    # autograd extras (autograd/engine.py)
    "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
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
