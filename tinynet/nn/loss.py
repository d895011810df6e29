"""Loss modules: each wraps the functional loss of the same name with its options.

``criterion = nn.CrossEntropyLoss(); loss = criterion(logits, targets)`` is
``F.cross_entropy(logits, targets)``. ``reduction`` is ``"mean"`` (default), ``"sum"`` or
``"none"``. The math lives in ``tinynet.functional.loss``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._args import as_float, as_int
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]


_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if weight is not None:
            self.register_buffer("weight", weight)
        else:
            self.weight = None


class MSELoss(_Loss):
    """Mean squared error ``mean((input − target)²)``."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``mean(|input − target|)``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities: ``−[t·log p + (1 − t)·log(1 − p)]``."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits (sigmoid inside, numerically stable); ``pos_weight``
    weighs the positive class."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, reduction)
        if pos_weight is not None:
            self.register_buffer("pos_weight", pos_weight)
        else:
            self.pos_weight = None

    def forward(self, input, target):
        kwargs = {"weight": self.weight, "reduction": self.reduction}
        if self.pos_weight is not None:
            kwargs["pos_weight"] = self.pos_weight
        return F.binary_cross_entropy_with_logits(input, target, **kwargs)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (N, C[, d1...]) against integer class targets (N[, d1...]):
    ``log_softmax`` then negative log-likelihood; ``ignore_index`` targets are skipped and
    ``label_smoothing`` mixes the one-hot target with the uniform distribution."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        label_smoothing = as_float(label_smoothing, "label_smoothing", "CrossEntropyLoss")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.ignore_index = as_int(ignore_index, "ignore_index", "CrossEntropyLoss")
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        kwargs = {"weight": self.weight, "ignore_index": self.ignore_index, "reduction": self.reduction}
        if self.label_smoothing:
            kwargs["label_smoothing"] = self.label_smoothing
        return F.cross_entropy(input, target, **kwargs)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C[, d1...]) at integer targets."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = as_int(ignore_index, "ignore_index", "NLLLoss")

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)
