"""Dropout modules: ``F.dropout`` (and its channel and alpha forms) while training, the identity in eval mode."""
from __future__ import annotations

from ..functional.dropout import _check_p, alpha_dropout, dropout
from ..functional.dropout2d import dropout1d, dropout3d, feature_alpha_dropout
from .module import Module


__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout3d", "FeatureAlphaDropout"]


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


class _DropoutNd(Module):
    """Shared ``p``/``inplace`` handling of the other dropout layers (``_fn`` is the functional form)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, type(self).__name__)
        self.inplace = bool(inplace)

    def forward(self, x):
        return type(self)._fn(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) with probability ``p`` while training (see ``F.dropout1d``)."""

    _fn = staticmethod(dropout1d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) with probability ``p`` while training (see ``F.dropout3d``)."""

    _fn = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks: keeps zero mean and unit variance (see ``F.alpha_dropout``)."""

    _fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (see ``F.feature_alpha_dropout``)."""

    _fn = staticmethod(feature_alpha_dropout)
