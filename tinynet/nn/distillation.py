"""``nn.DistillationLoss``: the knowledge-distillation loss as a module.

    criterion = nn.DistillationLoss(temperature=4.0, alpha=0.9)
    with tn.no_grad():
        teacher_logits = teacher(x)          # the teacher in eval mode, no graph
    loss = criterion(student(x), teacher_logits, y)

The math (temperature-softened KL to the teacher, scaled by ``T^2``, mixed with the
hard-label cross-entropy by ``alpha``) is in :mod:`tinynet.functional.distillation`.
"""
from __future__ import annotations

from .. import functional as F
from ..functional.distillation import check_distillation_args
from .module import Module

__all__ = ["DistillationLoss"]


class DistillationLoss(Module):
    """``alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, target)``.

    Args:
        temperature: ``T > 0`` (default 4.0): softens both distributions.
        alpha: in ``[0, 1]`` (default 0.9): weight of the soft (teacher) term.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    ``forward(student_logits, teacher_logits, target)``; the teacher's logits are detached.
    """

    def __init__(self, temperature: float = 4.0, alpha: float = 0.9, reduction: str = "mean"):
        super().__init__()
        self.temperature, self.alpha = check_distillation_args(temperature, alpha, reduction, "DistillationLoss")
        self.reduction = reduction

    def forward(self, student_logits, teacher_logits, target=None):
        return F.distillation_loss(student_logits, teacher_logits, target, temperature=self.temperature,
                                   alpha=self.alpha, reduction=self.reduction)

    def extra_repr(self):
        text = f"temperature={self.temperature:g}, alpha={self.alpha:g}"
        return text + (f", reduction={self.reduction!r}" if self.reduction != "mean" else "")
