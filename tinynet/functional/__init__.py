"""Differentiable ops on Tensors (``tinynet.functional``, also ``tinynet.nn.functional``).

Each module holds one family of ops; every op is a :class:`~tinynet.autograd.Function`
(forward on arrays, backward as tinynet ops) or a composition of them.
"""
from .conversion import clone, contiguous, cpu, cuda, to
from .elementwise import (abs, add, allclose, clamp, clip, div, eq, exp, ge, gt, isfinite, isnan,
                          le, log, logical_and, logical_not, logical_or, lt, maximum, minimum, mul,
                          ne, neg, pow, sign, sqrt, sub, where)
from .linalg import dot, matmul
from .reduction import mean, sum
from .shape import (broadcast_to, expand, flatten, permute, reshape, squeeze, swapaxes, transpose,
                    unsqueeze, view)
from . import methods as _methods  # noqa: F401  (binds Tensor methods)
