"""One-hot encoding of integer class labels.

``one_hot(labels, num_classes)`` turns labels of shape (...) into a (..., num_classes)
int64 tensor with a single 1 per row, as ``torch.nn.functional.one_hot`` does. It has no
gradient (labels are integers); multiply by a float or call ``.float()`` to use it in math.
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._args import as_int

__all__ = ["one_hot"]  # the public ops: tinynet.functional and tn.<name> export these


class LabelError(IndexError, ValueError):
    """A class label outside [0, num_classes): both an IndexError and a ValueError, so code
    written for either (PyTorch raises RuntimeError, NumPy IndexError) catches it."""


def one_hot(labels, num_classes=-1):
    """(..., ) integer labels -> (..., num_classes) int64 one-hot rows.

    ``num_classes=-1`` (the default) infers the class count as ``labels.max() + 1``, as
    PyTorch does (an empty tensor has no maximum: pass ``num_classes`` then). Negative
    labels, and labels not below ``num_classes``, raise :class:`LabelError` naming the
    offending value; float or bool labels raise ``TypeError``.
    """
    if not isinstance(labels, Tensor):
        labels = Tensor(labels)
    if labels.dtype.kind not in "iu":
        raise DTypeError(
            f"one_hot: labels must be an integer tensor (class indices), got {labels.dtype}; "
            "convert with .long()"
        )
    xp = labels.device.xp
    data = labels.array
    n = as_int(num_classes, "num_classes", "one_hot")
    if n < -1:
        raise ArgumentError(f"one_hot: num_classes must be a non-negative int or -1 (infer), got {n}")
    if data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < 0:
            raise LabelError(f"one_hot: class labels must be non-negative, got {lo} (labels of shape "
                             f"{tuple(labels.shape)})")
        if n == -1:
            n = hi + 1
        elif hi >= n:
            raise LabelError(
                f"one_hot: label {hi} is out of range for num_classes={n} (labels must lie in [0, {n - 1}]); "
                "pass a larger num_classes, or -1 to infer it"
            )
    elif n < 0:
        raise ArgumentError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
    out = (data[..., None] == xp.arange(n, dtype=_dt.int64)).astype(_dt.int64)
    return Tensor._make(out, labels.device)
