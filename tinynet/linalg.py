"""``tn.linalg``: linear-algebra functions under PyTorch's ``torch.linalg`` names.

The ops live in :mod:`tinynet.functional.linalg` (with their gradients); this module is
their ``torch.linalg``-shaped face: ``norm`` here takes ``ord=`` as ``torch.linalg.norm``
does (``tn.norm`` keeps ``torch.norm``'s ``p=``).
"""
from __future__ import annotations

import numbers as _numbers

from .backend.errors import ArgumentError as _ArgumentError, ShapeError as _ShapeError
from .functional import layout as _layout
from .functional import linalg as _linalg
from .functional.linalg import (cholesky, det, eigh, eigvalsh, inverse, matmul, matrix_exp, matrix_norm, matrix_power,
                                matrix_rank, pinv, qr, slogdet, solve, solve_triangular, svd, svdvals,
                                vander, vector_norm)

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_exp", "matrix_norm",
           "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_triangular",
           "svd", "svdvals", "vander", "vecdot", "vector_norm"]

inv = inverse


def cross(input, other, *, dim=-1):
    """The 3-D cross product along ``dim`` (default the last axis), as ``torch.linalg.cross``."""
    return _linalg.cross(input, other, dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of a batch of matrices (the last two axes by default), as ``torch.linalg.diagonal``."""
    return _layout.diagonal(A, offset, dim1, dim2)


def norm(A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None):
    """A vector or matrix norm, as ``torch.linalg.norm``.

    ``dim`` an int (or a 1-tuple): a vector norm; a pair: a matrix norm. With ``dim=None``:
    ``ord=None`` gives the 2-norm of every element; otherwise the input must be 1-D (vector
    norm) or 2-D (matrix norm).
    """
    if out is not None:
        raise TypeError("linalg.norm: out= is not supported by tinynet; assign the result")
    if dim is not None:
        dims = (dim,) if isinstance(dim, _numbers.Integral) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise _ShapeError(f"linalg.norm: dim must be an int or a pair of ints, got {dim!r}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        if isinstance(ord, str):
            raise _ArgumentError(f"linalg.norm: ord={ord!r} is a matrix norm, but the input is 1-D")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (0, 1), keepdim, dtype=dtype)
    raise _ShapeError(
        f"linalg.norm: with ord={ord!r} and dim=None the input must be 1-D or 2-D, got shape {tuple(A.shape)}; "
        "give dim"
    )


def multi_dot(tensors):
    """The product of a chain of matrices, left to right; the first may be 1-D (a row) and the
    last 1-D (a column), as ``torch.linalg.multi_dot``."""
    tensors = list(tensors)
    if not tensors:
        raise _ArgumentError("multi_dot: expected at least one tensor")
    if len(tensors) == 1:
        raise _ArgumentError("multi_dot: expected at least two tensors")
    for i, t in enumerate(tensors):
        ok = t.ndim == 2 or (t.ndim == 1 and i in (0, len(tensors) - 1))
        if not ok:
            raise _ShapeError(
                f"multi_dot: tensor {i} has shape {tuple(t.shape)}; the first and last may be 1-D or 2-D, the others 2-D"
            )
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def vecdot(x, y, *, dim=-1):
    """The dot product of ``x`` and ``y`` along ``dim`` (broadcasting the other axes)."""
    return (x * y).sum(dim=dim)
