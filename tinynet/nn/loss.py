"""Loss modules: each wraps the functional loss of the same name with its options.

``criterion = nn.CrossEntropyLoss(); loss = criterion(logits, targets)`` is
``F.cross_entropy(logits, targets)``. ``reduction`` is ``"mean"`` (default), ``"sum"`` or
``"none"``. The math lives in ``tinynet.functional.loss``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._args import as_float, as_int
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "GaussianNLLLoss",
           "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "MarginRankingLoss",
           "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "PoissonNLLLoss",
           "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss", "CTCLoss", "TripletMarginWithDistanceLoss"]


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


def _legacy(size_average, reduce, reduction, owner, allowed=_REDUCTIONS):
    """PyTorch's deprecated ``size_average``/``reduce`` pair overrides ``reduction`` when given."""
    if size_average is not None or reduce is not None:
        if reduce is not None and not reduce:
            return "none"
        return "sum" if size_average is not None and not size_average else "mean"
    if reduction not in allowed:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    return reduction


class _LegacyLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(_legacy(size_average, reduce, reduction, type(self).__name__))


class SmoothL1Loss(_LegacyLoss):
    """``0.5·d²/beta`` for |d| < beta, else ``|d| − 0.5·beta`` (d = input − target)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = as_float(beta, "beta", "SmoothL1Loss")
        if self.beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {self.beta}")

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``0.5·d²`` for |d| < delta, else ``delta·(|d| − 0.5·delta)``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = as_float(delta, "delta", "HuberLoss")
        if self.delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {self.delta}")

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities ``input`` from ``target``; ``reduction="batchmean"``
    gives the true per-sample divergence; ``log_target=True`` takes log-probability targets."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        Module.__init__(self)
        self.reduction = _legacy(size_average, reduce, reduction, "KLDivLoss", _REDUCTIONS + ("batchmean",))
        self.log_target = bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_LegacyLoss):
    """Poisson negative log-likelihood (``log_input``: input is the log rate; ``full``: add
    Stirling's term)."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full = bool(log_input), bool(full)
        self.eps = as_float(eps, "eps", "PoissonNLLLoss")

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood ``0.5·(log var + (input − target)²/var)``;
    ``forward(input, target, var)``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = as_float(eps, "eps", "GaussianNLLLoss")

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class _MarginLoss(_LegacyLoss):
    def __init__(self, margin: float, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = as_float(margin, "margin", type(self).__name__)


class CosineEmbeddingLoss(_MarginLoss):
    """``1 − cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) − margin)`` for target −1."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_MarginLoss):
    """``max(0, −target·(input1 − input2) + margin)``."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    """``x`` for target 1, ``max(0, margin − x)`` for target −1."""

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_MarginLoss):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with the p-norm pairwise distance."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(margin, size_average, reduce, reduction)
        if self.margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {self.margin}")
        self.p = as_float(p, "p", "TripletMarginLoss")
        self.eps = as_float(eps, "eps", "TripletMarginLoss")
        self.swap = bool(swap)

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_LegacyLoss):
    """``log(1 + exp(−target·input))`` (targets ±1)."""

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss, averaged over the classes."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(weight, _legacy(size_average, reduce, reduction, "MultiLabelSoftMarginLoss"))

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss ``Σ_{j≠y} max(0, margin − x_y + x_j)^p / C`` (p = 1 or 2)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, _legacy(size_average, reduce, reduction, "MultiMarginLoss"))
        self.p = as_int(p, "p", "MultiMarginLoss")
        if self.p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {self.p}")
        self.margin = as_float(margin, "margin", "MultiMarginLoss")

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class MultiLabelMarginLoss(_LegacyLoss):
    """Multi-label hinge loss; targets list each sample's classes, ended by −1."""

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss (``F.ctc_loss``): ``forward(log_probs, targets,
    input_lengths, target_lengths)`` with ``log_probs`` (T, N, C) from a ``log_softmax``."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        self.blank = as_int(blank, "blank", "CTCLoss", minimum=0)
        self.zero_infinity = bool(zero_infinity)

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


class TripletMarginWithDistanceLoss(_Loss):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with any ``distance_function`` (default: Euclidean
    ``F.pairwise_distance``); see ``F.triplet_margin_with_distance_loss``."""

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = as_float(margin, "margin", "TripletMarginWithDistanceLoss")
        if self.margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {self.margin}")
        if distance_function is not None and not callable(distance_function):
            raise TypeError("TripletMarginWithDistanceLoss: distance_function must be callable, got "
                            f"{type(distance_function).__name__}")
        self.distance_function = distance_function
        self.swap = bool(swap)

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)
