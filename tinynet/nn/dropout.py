"""Dropout module: ``F.dropout`` while training, the identity in eval mode."""
from __future__ import annotations

from ..functional.dropout import _check_p, dropout
from .module import Module


__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the rest by
    ``1/(1 − p)``; after ``model.eval()`` it passes its input through unchanged.
    ``inplace=True`` applies the mask in the input's own memory and returns the input
    (see ``F.dropout``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.inplace = bool(inplace)

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
