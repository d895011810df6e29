"""Knowledge distillation: ``distillation_loss`` (Hinton, Vinyals and Dean, "Distilling the
Knowledge in a Neural Network", 2015).

A large trained *teacher* knows more than its arg-max: the probabilities it gives the wrong
classes (a "7" that looks a little like a "1") say how the classes resemble each other. A
small *student* learns faster from these soft targets than from one-hot labels alone. Both
distributions are softened by a temperature ``T`` (``softmax(z / T)``: ``T > 1`` flattens
them, so the small probabilities carry weight), and the student minimises

    L = alpha * T^2 * KL( softmax(t / T) || softmax(s / T) ) + (1 - alpha) * CE(s, y)

with ``s`` the student's logits, ``t`` the teacher's, ``y`` the hard labels and ``CE`` the
ordinary cross-entropy at temperature 1.

**Why ``T^2``.** The gradient of the soft term with respect to a student logit is
``(q_i - p_i) / T`` (``q`` the student's, ``p`` the teacher's softened probabilities), and
for large ``T`` ``q_i - p_i ~ (s_i - t_i) / (C T)``: the soft gradients shrink like
``1 / T^2``. Multiplying by ``T^2`` keeps their size independent of ``T``, so changing the
temperature does not silently re-weight the soft term against the hard one (``alpha`` alone
says how they mix).
"""
from __future__ import annotations

import math

from ..backend.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from .activation import log_softmax
from .loss import cross_entropy, kl_div

__all__ = ["distillation_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_logits(x, name, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise DTypeError(f"{op}: {name} must be floating point logits, got shape {tuple(x.shape)}, dtype {x.dtype}; "
                         f"convert with `{name}.float()`")
    if x.ndim < 2:
        raise ShapeError(f"{op}: {name} must be (N, C) logits (or (N, C, d1, ...), classes on axis 1), got shape "
                         f"{tuple(x.shape)}; add a batch axis with `{name}.unsqueeze(0)`")


def check_distillation_args(temperature, alpha, reduction="mean", op="distillation_loss"):
    """Validate and return ``(temperature, alpha)`` as floats (shared with ``nn.DistillationLoss``)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ArgumentError(f"{op}: temperature must be a number > 0, got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise ArgumentError(f"{op}: alpha must be a number in [0, 1], got {alpha!r}")
    temperature, alpha = float(temperature), float(alpha)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ArgumentError(f"{op}: temperature must be > 0 and finite, got {temperature} (T = 1 is the plain "
                            "softmax; T = 2..10 are usual for distillation)")
    if not 0.0 <= alpha <= 1.0:
        raise ArgumentError(f"{op}: alpha must be in [0, 1] (the weight of the soft, teacher term; 1 - alpha "
                            f"weighs the hard-label cross-entropy), got {alpha}")
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return temperature, alpha


def distillation_loss(student_logits, teacher_logits, target=None, temperature: float = 4.0, alpha: float = 0.9,
                      reduction: str = "mean"):
    """The knowledge-distillation loss of a student against a teacher (module docstring):

        alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, target)

    Args:
        student_logits: ``(N, C)`` (or ``(N, C, d1, ...)``) raw scores of the student.
        teacher_logits: the teacher's scores for the same samples, same shape. Detached:
            no gradient ever flows into the teacher.
        target: ``(N,)`` (or ``(N, d1, ...)``) class indices for the hard-label term. May be
            None only when ``alpha == 1`` (pure soft-target training, e.g. on unlabelled data).
        temperature: ``T > 0``; softens both distributions.
        alpha: in ``[0, 1]``; weight of the soft term (``1 - alpha`` for the hard term).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the samples (and
            positions ``d1, ...``). ``"none"`` gives one loss per sample: the KL term summed
            over the class axis plus that sample's cross-entropy; ``"mean"`` averages these,
            so for ``(N, C)`` logits the soft term is ``kl_div(..., reduction="batchmean")``,
            the true KL divergence per sample.

    The KL term is computed from two ``log_softmax`` (never the log of a softmax, which
    underflows to ``-inf`` for confident logits) with ``kl_div(..., log_target=True)``.
    """
    op = "distillation_loss"
    temperature, alpha = check_distillation_args(temperature, alpha, reduction, op)
    _check_logits(student_logits, "student_logits", op)
    _check_logits(teacher_logits, "teacher_logits", op)
    s_shape, t_shape = tuple(student_logits.shape), tuple(teacher_logits.shape)
    if s_shape != t_shape:
        detail = (f"the student has {s_shape[1]} classes and the teacher {t_shape[1]}; both must predict the same "
                  "classes" if s_shape[1] != t_shape[1] else "give both the same batch of samples")
        raise ShapeError(f"{op}: student_logits have shape {s_shape} but teacher_logits have shape {t_shape}: "
                         f"{detail}")
    if teacher_logits.device is not student_logits.device:
        raise DeviceError(f"{op}: student_logits are on {student_logits.device.type} but teacher_logits are on "
                          f"{teacher_logits.device.type}; move the teacher's outputs with "
                          f"`teacher_logits.to('{student_logits.device.type}')`")
    teacher = teacher_logits.detach()
    if teacher.dtype != student_logits.dtype:
        teacher = teacher.to(student_logits.dtype)
    if target is None and alpha != 1.0:
        raise ArgumentError(f"{op}: target (the hard labels) is needed when alpha < 1 (alpha = {alpha}); pass the "
                            "class indices, or alpha=1.0 for soft targets only")
    t = temperature
    log_q = log_softmax(student_logits / t, 1)  # student, softened
    log_p = log_softmax(teacher / t, 1)  # teacher, softened (a constant: detached)
    soft = kl_div(log_q, log_p, reduction="none", log_target=True).sum(axis=1) * (t * t)  # (N, d1, ...)
    loss = soft * alpha
    if alpha != 1.0:
        hard = cross_entropy(student_logits, target, reduction="none")
        if tuple(hard.shape) != tuple(soft.shape):  # (cross_entropy checks the target itself)
            raise ShapeError(f"{op}: target has shape {tuple(target.shape)} but the logits {s_shape} need "
                             f"{(s_shape[0],) + s_shape[2:]}")
        loss = loss + hard * (1.0 - alpha)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
