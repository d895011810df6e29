"""Loss functions: mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
nll_loss, cross_entropy, smooth_l1_loss, huber_loss, kl_div, poisson_nll_loss,
gaussian_nll_loss, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
hinge_embedding_loss, soft_margin_loss, multilabel_soft_margin_loss, multi_margin_loss and
multilabel_margin_loss, with PyTorch's arguments and ``reduction`` semantics (the later
losses also take PyTorch's deprecated ``size_average``/``reduce`` pair, which overrides
``reduction`` when given, as in PyTorch). Each of these later losses is a composite of
differentiable ops (its formula is in its docstring), so it differentiates twice.

``reduction``: ``"none"`` keeps one loss per element (per sample for the class losses),
``"sum"`` adds them, ``"mean"`` averages them. For the class losses with a per-class
``weight`` the mean is *weighted*: ``sum_i w[t_i] l_i / sum_i w[t_i]``, and samples whose
target is ``ignore_index`` count in neither sum (PyTorch's exact definition; a batch with
every target ignored gives nan, as in PyTorch).

Formulas (natural log throughout):

* ``mse_loss = (x - y)^2``, ``l1_loss = |x - y|``
* ``binary_cross_entropy(p, t) = -(t log p + (1 - t) log(1 - p))``, each log clamped to
  >= -100 like PyTorch so p = 0 or 1 gives a finite loss
* ``binary_cross_entropy_with_logits(z, t) = (1 - t) z + (1 + (pw - 1) t) softplus(-z)``,
  which equals the BCE of sigmoid(z) but never takes log(0) (pw = ``pos_weight``)
* ``nll_loss(logp, t) = -w[t] logp[t]`` (input: log-probabilities)
* ``cross_entropy(x, t) = nll_loss(log_softmax(x, 1), t)`` with ``label_smoothing`` eps:
  ``(1 - eps) nll + eps / C * sum_c -w_c logp_c``; probability targets q (same shape as
  x) give ``-sum_c w_c q_c logp_c``.

cross_entropy with class-index targets and no ``weight`` is one fused op
(``CrossEntropy``) that runs the row kernels of ``kernels/*/softmax.py``: forward per-row
``logsumexp - x_t``, backward ``softmax - onehot`` scaled by the incoming gradient.
"""
from __future__ import annotations

import math

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._autocast import float32_under_autocast
from ._util import promote_types
from .activation import from_rows, log_softmax, logsigmoid, relu, softmax, softplus, to_rows, use_row_kernels
from .distance import pairwise_distance
from .elementwise import abs as _abs, clip, exp, log, minimum, sqrt, where

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy",
    "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
    "mse_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "nll_loss",
    "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss"
]

_REDUCTIONS = ("mean", "sum", "none")


# --- argument checks ----------------------------------------------------------------------------
def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _desc(t):
    return f"shape {tuple(t.shape)}, dtype {t.dtype}"


def _as_tensor(x, like, op, name="target"):
    """A target given as a number/list/array becomes a tensor on ``like``'s device."""
    if isinstance(x, Tensor):
        if x.device is not like.device:
            raise RuntimeError(
                f"{op}: input is on {like.device.type} but {name} is on {x.device.type}; "
                f"move it with `{name}.to('{like.device.type}')`"
            )
        return x
    return Tensor(x, device=like.device)


def _check_float_input(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"{op}: input must be floating point, got {_desc(input)}; convert with `input.float()`")


def _same_shape(input, target, op):
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(
            f"{op}: input has shape {tuple(input.shape)} but target has shape {tuple(target.shape)}; "
            "they must be the same (reshape the target, e.g. `target.reshape(input.shape)`)"
        )


def _float_target(input, target, op):
    """Elementwise-loss target: same shape as input, cast to the input's float dtype."""
    _check_float_input(input, op)
    target = _as_tensor(target, input, op)
    _same_shape(input, target, op)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return target


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# --- elementwise losses ---------------------------------------------------------------------------
class MSELoss(Op):
    """``(x - y)^2`` reduced by ``reduction``, as one op (W4's loss: fewer op calls per step).

    Gradient: d/dx = 2 (x - y) * g / n (n = element count for "mean", else 1); d/dy = -d/dx:
    on the saved difference in ``backward_array``, with tinynet ops in ``backward``.
    """

    name = "mse_loss"
    saves_output = False

    def forward(self, x, y):
        d = x - y
        self.d = d
        sq = d * d
        if self.reduction == "none":
            return sq
        out = sq.sum() if self.reduction == "sum" else sq.mean()
        return self.xp.asarray(out, dtype=x.dtype)

    def _factor(self):
        return 2.0 / self.d.size if self.reduction == "mean" and self.d.size else 2.0

    def backward(self, g):
        x, y = self.inputs
        gx = (x - y) * (g * self._factor())
        return (gx if x._requires_grad else None), (-gx if y._requires_grad else None)

    def backward_array(self, g):
        x, y = self.inputs
        gx = self.d * (g * self._factor())
        return (gx if x._requires_grad else None), (-gx if y._requires_grad else None)


@float32_under_autocast("mse_loss", 2)
def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ``(input - target)^2``, reduced by ``reduction``."""
    _check_reduction(reduction, "mse_loss")
    target = _float_target(input, target, "mse_loss")
    return MSELoss.apply(input, target, reduction=reduction)


@float32_under_autocast("l1_loss", 2)
def l1_loss(input, target, reduction: str = "mean"):
    """Mean absolute error ``|input - target|``, reduced by ``reduction``."""
    _check_reduction(reduction, "l1_loss")
    target = _float_target(input, target, "l1_loss")
    return _reduce(_abs(input - target), reduction)


class BinaryCrossEntropy(Op):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))`` with the logs clamped to >= -100.

    Gradients (PyTorch's): d/dp = (p - t) / max(p (1 - p), 1e-12); d/dt = log(1 - p) - log p
    (clamped logs). Both are written with tinynet ops, so they differentiate again.
    """

    name = "binary_cross_entropy"
    saves_output = False

    def forward(self, p, t):
        xp = self.xp
        errstate = getattr(xp, "errstate", None)
        if errstate is not None:
            with errstate(divide="ignore"):
                logp, log1mp = xp.log(p), xp.log1p(-p)
        else:
            logp, log1mp = xp.log(p), xp.log1p(-p)
        logp = xp.maximum(logp, -100.0)
        log1mp = xp.maximum(log1mp, -100.0)
        return (-(t * logp + (1 - t) * log1mp)).astype(p.dtype, copy=False)

    def backward(self, g):
        p, t = self.inputs
        gp = gt = None
        if p._requires_grad:
            gp = g * (p - t) / clip(p * (1 - p), min=1e-12)
        if t._requires_grad:
            gt = g * (clip(log(1 - p), min=-100.0) - clip(log(p), min=-100.0))
        return gp, gt


@float32_under_autocast("binary_cross_entropy", 2)
def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` (same shape).

    ``weight`` (broadcast to the input) rescales each element's loss.
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    target = _float_target(input, target, op)
    host = input.device.to_host(input.array)
    if host.size and ((host < 0).any() or (host > 1).any()):
        raise ArgumentError(
            f"{op}: input must hold probabilities in [0, 1] (found values from {float(host.min()):g} "
            f"to {float(host.max()):g}); for raw scores (logits) use binary_cross_entropy_with_logits"
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _as_tensor(weight, input, op, "weight")
    return _reduce(loss, reduction)


@float32_under_autocast("binary_cross_entropy_with_logits", 2)
def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """BCE of ``sigmoid(input)`` against ``target``, computed stably from the logits.

    ``loss = (1 - t) z + (1 + (pos_weight - 1) t) softplus(-z)``; softplus is evaluated as
    ``max(u, 0) + log1p(exp(-|u|))``, so ``z = +-1e4`` is exact and warning-free.
    ``pos_weight`` (broadcast along the last axis, e.g. one per class) weighs the positive
    term; ``weight`` rescales each element's loss. The gradient is sigmoid(z) - t
    (without pos_weight).
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    target = _float_target(input, target, op)
    sp = softplus(-input)
    if pos_weight is not None:
        pw = _as_tensor(pos_weight, input, op, "pos_weight")
        if pw.dtype != input.dtype:
            pw = pw.to(input.dtype)
        sp = (1 + (pw - 1) * target) * sp
    loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * _as_tensor(weight, input, op, "weight")
    return _reduce(loss, reduction)


# --- class-index losses -----------------------------------------------------------------------------
def _class_count(input, op):
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class axis: shape (C,), (N, C) or (N, C, d1, ...); got a 0-d tensor")
    return input.shape[1] if input.ndim >= 2 else input.shape[0]


def _expected_target_shape(input):
    return () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])


def _check_class_targets(input, target, ignore_index, op):
    """Validate integer class targets: dtype, shape (N, d1, ...) and range [0, C)."""
    C = _class_count(input, op)
    want = _expected_target_shape(input)
    kind = target.array.dtype.kind
    if kind not in "iu":
        if kind == "f" and tuple(target.shape) == want:
            extra = (" or class probabilities with the input's shape "
                     f"{tuple(input.shape)}" if op == "cross_entropy" else "")
            raise DTypeError(
                f"{op}: target holds class indices (shape {tuple(target.shape)}) but has dtype "
                f"{target.dtype}; class indices must be integers. Convert with `target.long()`{extra}."
            )
        if kind == "f" and op == "cross_entropy":
            raise ShapeError(
                f"{op}: target of shape {tuple(target.shape)} ({target.dtype}) fits neither form: class "
                f"probabilities need the input's shape {tuple(input.shape)}, class indices need an integer "
                f"target of shape {want}"
            )
        raise DTypeError(f"{op}: target must be an integer tensor of class indices, got {_desc(target)}")
    if tuple(target.shape) != want:
        raise ShapeError(
            f"{op}: input of shape {tuple(input.shape)} needs a target of shape {want} "
            f"(class axis removed), but target has shape {tuple(target.shape)}"
        )
    t = target.array
    if not t.size or (int(t.min()) >= 0 and int(t.max()) < C):  # the common case: two reductions
        return C
    bad = ((t < 0) | (t >= C)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(
            f"{op}: target value {value} is out of range for {C} classes (valid: 0 to {C - 1}, or "
            f"ignore_index={ignore_index}); input shape {tuple(input.shape)}, target shape {tuple(t.shape)}"
        )
    return C


def _check_weight(weight, input, C, op):
    if weight is None:
        return None
    weight = _as_tensor(weight, input, op, "weight")
    if tuple(weight.shape) != (C,):
        raise ShapeError(f"{op}: weight must have shape ({C},), one per class; got {tuple(weight.shape)}")
    return weight.array.astype(input.dtype, copy=False)


def _safe_div(xp, a, b):
    """a / b for a scalar b, with 0/0 -> nan and no RuntimeWarning (PyTorch's all-ignored mean).

    NumPy would warn on a zero denominator, so that case is answered directly (a cheap
    scalar test; ``np.errstate`` costs ~10 us a call). CuPy does not warn.
    """
    if xp.__name__ == "numpy" and b == 0:
        return xp.full(xp.shape(a), xp.nan, dtype=xp.result_type(a, b))
    return a / b


def _class_shape(ndim, C):
    """Shape (1, C, 1, ...) that broadcasts a per-class vector along axis 1."""
    return (1, C) + (1,) * (ndim - 2)


class NLLLoss(Op):
    """Negative log-likelihood of log-probabilities ``x`` (N, C, d...) at the target classes.

    Per sample ``l_i = -w[t_i] x[i, t_i]`` (0 where ``t_i == ignore_index``). The gradient
    is ``-w[t_i] * scale`` at the target class and 0 elsewhere; it is linear in the incoming
    gradient, written as ``g * constant``, so second derivatives (zero in x) work.
    """

    name = "nll_loss"
    saves_output = False

    def forward(self, x):
        xp = self.xp
        t = self.target
        valid = t != self.ignore_index
        safe = xp.where(valid, t, 0)
        picked = xp.take_along_axis(x, xp.expand_dims(safe, 1), axis=1).squeeze(1)
        w = self.weight[safe] if self.weight is not None else xp.ones(t.shape, dtype=x.dtype)
        w = w * valid.astype(x.dtype)
        self.w = w
        self.safe = safe
        losses = -picked * w
        if self.reduction == "none":
            return losses
        total = xp.asarray(losses.sum(), dtype=x.dtype)
        if self.reduction == "sum":
            return total
        self.denom = xp.asarray(w.sum(), dtype=x.dtype)
        return xp.asarray(_safe_div(xp, total, self.denom), dtype=x.dtype)

    def backward(self, g):
        xp = self.xp
        x = self.inputs[0].array
        C = x.shape[1]
        coef = -self.w
        if self.reduction == "mean":
            coef = _safe_div(xp, coef, self.denom)
        onehot = xp.arange(C).reshape(_class_shape(x.ndim, C)) == xp.expand_dims(self.safe, 1)
        M = self.constant((onehot * xp.expand_dims(coef, 1)).astype(x.dtype, copy=False))
        if self.reduction == "none":
            g = g.unsqueeze(1)
        return g * M

    def backward_array(self, g):
        """The same gradient written straight into zeros: one entry per sample, ``-w[t_i] g``
        (over ``Σ w`` for "mean") at its target class; no dense one-hot (N x C) product."""
        xp = self.xp
        x = self.inputs[0].array
        coef = -self.w
        if self.reduction == "mean":
            coef = _safe_div(xp, coef, self.denom)
        vals = (coef * g).astype(x.dtype, copy=False)  # g: a scalar, or per sample for "none"
        gx = xp.zeros_like(x)
        xp.put_along_axis(gx, xp.expand_dims(self.safe, 1), xp.expand_dims(vals, 1), axis=1)
        return gx


class CrossEntropy(Op):
    """Fused cross-entropy of logits ``x`` (N, C, d...) with class-index targets.

    Forward: per row ``lse - (1 - eps) x_t - eps/C sum_c x_c`` (the fused
    ``cross_entropy_forward`` kernel, or NumPy), reduced. Backward: ``(softmax(x) - q) *
    scale`` with q the (smoothed) one-hot target: the fused ``cross_entropy_backward``
    kernel in ``backward_array``, the same formula in tinynet ops (``softmax`` again) in
    ``backward``.
    """

    name = "cross_entropy"
    saves_output = False

    def forward(self, x):
        xp = self.xp
        C = x.shape[1]
        eps = self.label_smoothing
        x2, self.moved = to_rows(xp, x, 1)
        t2 = xp.ascontiguousarray(self.target.reshape(-1), dtype=xp.int64)
        valid = t2 != self.ignore_index
        if x2.shape[0] and use_row_kernels(self.device, x2, C):
            loss, lse = self.kernels.cross_entropy_forward(x2, t2, self.ignore_index, eps)
        else:
            # With s = x - max: loss = log(sum(exp(s))) - (1 - eps) s_t - eps/C sum(s), which
            # avoids lse - x_t, a difference of two large numbers for large logits.
            safe = xp.where(valid, t2, 0)
            m = x2.max(axis=1, keepdims=True) if C else xp.zeros((x2.shape[0], 1), x.dtype)
            shifted = x2 - m
            log_s = xp.log(xp.exp(shifted).sum(axis=1))
            loss = log_s - (1 - eps) * xp.take_along_axis(shifted, safe[:, None], axis=1)[:, 0]
            if eps:
                loss = loss - (eps / C) * shifted.sum(axis=1)
            loss = (loss * valid).astype(x.dtype, copy=False)
            lse = m[:, 0].astype(xp.float64) + log_s
        self.x2, self.t2, self.lse, self.valid = x2, t2, lse, valid
        if self.reduction == "none":
            return loss.reshape(self.target.shape)
        total = xp.asarray(loss.sum(), dtype=x.dtype)
        if self.reduction == "sum":
            return total
        self.count = xp.asarray(valid.sum(), dtype=x.dtype)
        return xp.asarray(_safe_div(xp, total, self.count), dtype=x.dtype)

    def _row_scale(self, g):
        """The incoming gradient as one factor per row (with the mean's 1/count)."""
        xp = self.xp
        rows = self.x2.shape[0]
        if self.reduction == "none":
            return g.reshape(-1)
        if self.reduction == "mean":
            g = _safe_div(xp, g, self.count)
        scale = xp.empty(rows, dtype=self.x2.dtype)
        scale[...] = g
        return scale

    def _target_rows(self):
        """The (smoothed) one-hot target distribution in row layout, zero on ignored rows."""
        xp = self.xp
        x2, eps = self.x2, self.label_smoothing
        C = x2.shape[1]
        q = (xp.arange(C)[None, :] == self.t2[:, None]).astype(x2.dtype) * (1 - eps) + eps / C
        return q * self.valid[:, None]

    def backward_array(self, g):
        """softmax(x) - q, scaled per row: the fused kernel where it pays, else NumPy."""
        xp = self.xp
        scale = self._row_scale(g)
        if self.x2.shape[0] and use_row_kernels(self.device, self.x2, self.x2.shape[1]):
            dx2 = self.kernels.cross_entropy_backward(self.x2, self.lse, self.t2, scale, self.ignore_index,
                                                      self.label_smoothing)
        else:
            p = xp.exp(self.x2 - self.lse[:, None]).astype(self.x2.dtype, copy=False)
            dx2 = (p * self.valid[:, None] - self._target_rows()) * scale[:, None]
        return from_rows(xp, dx2.astype(self.x2.dtype, copy=False), self.moved, 1, self.inputs[0].ndim)

    def backward(self, g):
        xp = self.xp
        x = self.inputs[0]
        ndim = x.ndim
        p = softmax(x, dim=1)
        q = self.constant(from_rows(xp, self._target_rows(), self.moved, 1, ndim))
        mask_rows = self.valid.astype(self.x2.dtype)[:, None]
        mask = self.constant(from_rows(xp, xp.broadcast_to(mask_rows, self.x2.shape).copy(), self.moved, 1, ndim))
        if self.reduction == "none":
            g = g.unsqueeze(1)
        elif self.reduction == "mean":
            g = g / self.constant(self.count)
        return (p * mask - q) * g


def _unbatched(input, target):
    """(C,) input with a 0-d target -> (1, C) and (1,), so one code path serves both."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1) if target.ndim == 0 else target.unsqueeze(0), True
    return input, target, False


@float32_under_autocast("nll_loss", 2)
def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood: ``-weight[t] * input[t]`` for log-probabilities ``input``.

    ``input``: (C,), (N, C) or (N, C, d1, ...); ``target``: integer class indices of shape
    (), (N,) or (N, d1, ...). Targets equal to ``ignore_index`` contribute nothing.
    """
    op = "nll_loss"
    _check_reduction(reduction, op)
    _check_float_input(input, op)
    target = _as_tensor(target, input, op)
    C = _check_class_targets(input, target, ignore_index, op)
    w = _check_weight(weight, input, C, op)
    x, t, single = _unbatched(input, target)
    out = NLLLoss.apply(x, target=t.array, weight=w, ignore_index=int(ignore_index), reduction=reduction)
    return out.reshape(()) if single and reduction == "none" else out


@float32_under_autocast("cross_entropy", 2)
def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Cross-entropy between logits ``input`` and ``target`` (log_softmax + nll_loss).

    ``input``: (C,), (N, C) or (N, C, d1, ...) raw scores. ``target``: integer class indices
    of shape (), (N,) or (N, d1, ...), or class probabilities of the input's shape.
    ``weight``: one rescaling factor per class. ``ignore_index``: target value skipped (class
    targets only). ``label_smoothing`` eps in [0, 1]: mixes the target with the uniform
    distribution, ``(1 - eps) onehot + eps / C``.
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    _check_float_input(input, op)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ArgumentError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    eps = float(label_smoothing)
    target = _as_tensor(target, input, op)
    C = _class_count(input, op)
    if target.array.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        return _cross_entropy_probs(input, target, _check_weight(weight, input, C, op), eps, reduction)
    C = _check_class_targets(input, target, ignore_index, op)
    w = _check_weight(weight, input, C, op)
    x, t, single = _unbatched(input, target)
    if w is None:
        out = CrossEntropy.apply(x, target=t.array, ignore_index=int(ignore_index), reduction=reduction,
                                 label_smoothing=eps)
    else:
        out = _cross_entropy_weighted(x, t, w, int(ignore_index), reduction, eps)
    return out.reshape(()) if single and reduction == "none" else out


def _cross_entropy_weighted(x, t, w, ignore_index, reduction, eps):
    """Class-weighted cross-entropy, composed as PyTorch defines it (label smoothing included)."""
    xp = x.device.xp
    logp = log_softmax(x, dim=1)
    nll = NLLLoss.apply(logp, target=t.array, weight=w, ignore_index=ignore_index, reduction=reduction)
    if not eps:
        return nll
    C = x.shape[1]
    valid = t.array != ignore_index
    wb = Tensor._make(w.reshape(_class_shape(x.ndim, C)), x.device)
    smooth = -(logp * wb).sum(axis=1) * Tensor._make(valid.astype(x.dtype), x.device)
    if reduction == "mean":
        safe = xp.where(valid, t.array, 0)
        denom = (w[safe] * valid).sum()
        smooth = smooth.sum() / Tensor._make(xp.asarray(denom, dtype=x.dtype), x.device)
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - eps) * nll + (eps / C) * smooth


def _cross_entropy_probs(input, target, w, eps, reduction):
    """Cross-entropy with class-probability targets ``q``: ``-sum_c w_c q_c log_softmax(x)_c``."""
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    x, q, single = (input.unsqueeze(0), target.unsqueeze(0), True) if input.ndim == 1 else (input, target, False)
    C = x.shape[1]
    if eps:
        q = q * (1 - eps) + eps / C
    logp = log_softmax(x, dim=1)
    prod = logp * q
    if w is not None:
        prod = prod * Tensor._make(w.reshape(_class_shape(x.ndim, C)), x.device)
    loss = -prod.sum(axis=1)
    if single and reduction == "none":
        return loss.reshape(())
    return _reduce(loss, reduction)


# --- more losses: regression, divergence, likelihood, margin and embedding losses ---------------
def _legacy_reduction(size_average, reduce, reduction, op, allowed=_REDUCTIONS):
    """PyTorch's deprecated ``size_average``/``reduce`` pair, when given, decides the reduction
    (``reduce=False``: "none"; else ``size_average=False``: "sum"; else "mean"), as in PyTorch."""
    if size_average is not None or reduce is not None:
        if reduce is not None and not reduce:
            return "none"
        return "sum" if size_average is not None and not size_average else "mean"
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ArgumentError(f"{op}: reduction must be one of {names}; got {reduction!r}")
    return reduction


def _float_tensor(x, like, op, name):
    """A float operand of a loss (target, var, weight) as a tensor of ``like``'s dtype/device."""
    t = _as_tensor(x, like, op, name)
    if t.dtype != like.dtype:
        t = t.to(like.dtype)
    return t


def _host(t):
    return t.device.to_host(t.array)


@float32_under_autocast("smooth_l1_loss", 2)
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    """Smooth L1 loss: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``
    (``d = input - target``); quadratic near 0, linear beyond (Fast R-CNN's box loss).
    ``beta = 0`` is the L1 loss."""
    op = "smooth_l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    beta = float(beta)
    if beta < 0:
        raise ArgumentError(f"{op}: beta must be non-negative, got {beta}")
    target = _float_target(input, target, op)
    d = input - target
    ad = _abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    small = ad.array < beta
    return _reduce(where(small, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


@float32_under_autocast("huber_loss", 2)
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """Huber loss: ``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``
    (``= delta * smooth_l1_loss`` with ``beta = delta``). ``weight`` (the input's shape)
    multiplies each element's loss before the reduction, as PyTorch's."""
    op = "huber_loss"
    _check_reduction(reduction, op)
    delta = float(delta)
    if delta <= 0:
        raise ArgumentError(f"{op}: delta must be positive, got {delta}")
    target = _float_target(input, target, op)
    d = input - target
    ad = _abs(d)
    loss = where(ad.array < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    if weight is not None:
        weight = _float_tensor(weight, input, op, "weight")
        if tuple(weight.shape) != tuple(input.shape):
            raise ShapeError(f"{op}: weight has shape {tuple(weight.shape)} but must have the input's shape "
                             f"{tuple(input.shape)} (one weight per element)")
        loss = loss * weight
    return _reduce(loss, reduction)


@float32_under_autocast("kl_div", 2)
def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """Kullback-Leibler divergence ``KL(target || exp(input))`` per element, for
    log-probabilities ``input``: ``target (log target - input)`` (0 where target = 0), or
    with ``log_target=True`` (target given as log-probabilities)
    ``exp(target) (target - input)``.

    ``reduction="batchmean"`` divides the sum by the batch size ``input.shape[0]`` (the true
    KL divergence per sample); ``"mean"`` divides by the number of elements, as PyTorch's.

    As in PyTorch, ``input`` and ``target`` broadcast against each other, the result takes
    their promoted float dtype (float32 input with a float64 target gives float64), a
    negative probability target gives nan (``target log target`` is undefined there) and an
    integer target is refused.
    """
    op = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction, op, _REDUCTIONS + ("batchmean",))
    _check_float_input(input, op)
    target = _as_tensor(target, input, op)
    if target.array.dtype.kind != "f":
        raise DTypeError(f"{op}: target must be floating point (probabilities, or log-probabilities with "
                         f"log_target=True), got {_desc(target)}; convert with `target.to(input.dtype)`")
    try:
        _np.broadcast_shapes(tuple(input.shape), tuple(target.shape))  # (shapes only: host math)
    except ValueError:
        raise ShapeError(f"{op}: input has shape {tuple(input.shape)} and target has shape {tuple(target.shape)}, "
                         "which do not broadcast together; give the target the input's shape (one "
                         "probability per log-probability)") from None
    dtype = promote_types(input.dtype, target.dtype)
    input, target = (t if t.dtype == dtype else t.to(dtype) for t in (input, target))
    if log_target:
        loss = exp(target) * (target - input)
    else:
        nonzero = target.array != 0
        safe = where(nonzero, target, 1.0)
        with _np.errstate(invalid="ignore"):  # log of a negative target: nan, as in PyTorch (no warning)
            loss = where(nonzero, target * log(safe), 0.0) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean"):
    """Negative log-likelihood of ``target`` counts under Poisson(rate):

    * ``log_input=True`` (``input`` = log rate): ``exp(input) - target * input``;
    * ``log_input=False`` (``input`` = rate): ``input - target * log(input + eps)``.

    ``full=True`` adds Stirling's approximation of ``log(target!)``,
    ``target log target - target + 0.5 log(2 pi target)``, for targets > 1.
    """
    op = "poisson_nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    target = _float_target(input, target, op)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + float(eps))
    if full:
        big = target.array > 1
        safe = where(big, target, 2.0)
        stirling = safe * log(safe) - safe + 0.5 * log(safe * (2 * math.pi))
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
    """Negative log-likelihood of ``target`` under N(input, var):
    ``0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps))`` (+ ``0.5 log(2 pi)``
    with ``full=True``).

    ``var`` has the input's shape, or it is one dimension short (input.shape[:-1]: one
    variance per row, homoscedastic), or it differs from the input's shape in exactly one
    dimension of size 1 (broadcast), or it is a float. Negative variances raise. As in
    PyTorch, the clamp to ``eps`` changes the value only: the gradient reaches ``var``
    as if unclamped.
    """
    op = "gaussian_nll_loss"
    _check_reduction(reduction, op)
    target = _float_target(input, target, op)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ArgumentError(f"{op}: var has negative entry/entries ({var})")
        var = Tensor._make(input.device.xp.full(tuple(input.shape), float(var), dtype=input.array.dtype), input.device)
    var = _float_tensor(var, input, op, "var")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif not (len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1):
            raise ShapeError(
                f"{op}: var of shape {vs} is of incorrect size for input of shape {xs}: it must be the input's "
                f"shape, the input's shape without its last dimension {xs[:-1]}, or differ from it in one "
                "dimension of size 1"
            )
    host = _host(var)
    if host.size and bool((host < 0).any()):
        raise ArgumentError(f"{op}: var has negative entry/entries (min {float(host.min()):g}); variances must be >= 0")
    shift = var.device.xp.maximum(var.array, float(eps)) - var.array
    var = var + Tensor._make(shift.astype(var.array.dtype, copy=False), var.device)
    d = input - target
    loss = 0.5 * (log(var) + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _pm_one_target(target, like, op, want):
    t = _as_tensor(target, like, op)
    if tuple(t.shape) != want:
        raise ShapeError(f"{op}: target has shape {tuple(t.shape)} but must have shape {want} (one label per pair)")
    return t


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                          reduction: str = "mean"):
    """Embedding loss on the cosine of pairs: ``1 - cos(x1, x2)`` for target 1,
    ``max(0, cos(x1, x2) - margin)`` for target -1 (other targets give 0).

    Inputs (N, D) with target (N,), or (D,) with a 0-d target. The cosine is PyTorch's
    ``sum(x1 x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))``.
    """
    op = "cosine_embedding_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _check_float_input(input1, op)
    input2 = _float_tensor(input2, input1, op, "input2")
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ShapeError(f"{op}: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} must have the same "
                         "shape, (N, D) or (D,)")
    target = _pm_one_target(target, input1, op, tuple(input1.shape[:-1]))
    dim = input1.ndim - 1
    prod = (input1 * input2).sum(axis=dim)
    m1 = (input1 * input1).sum(axis=dim) + 1e-12
    m2 = (input2 * input2).sum(axis=dim) + 1e-12
    cos = prod / sqrt(m1 * m2)
    t = target.array
    pos = where(t == 1, 1 - cos, 0.0)
    neg = where(t == -1, clip(cos - float(margin), min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """Ranking loss ``max(0, -target (input1 - input2) + margin)``: target 1 asks input1 to
    rank above input2 by ``margin``, -1 the reverse. All three have the same number of
    dimensions (and broadcast)."""
    op = "margin_ranking_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _check_float_input(input1, op)
    input2 = _float_tensor(input2, input1, op, "input2")
    target = _float_tensor(target, input1, op, "target")
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"{op}: input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and target "
                         f"{tuple(target.shape)} must have the same number of dimensions")
    return _reduce(clip(-target * (input1 - input2) + float(margin), min=0.0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
    """Triplet loss ``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the
    :func:`pairwise_distance` (``p``-norm, ``eps``); ``swap=True`` uses
    ``min(d(a, n), d(p, n))`` as the negative distance (Balntas et al. 2016).
    Inputs (N, D) or (D,), all of the same number of dimensions."""
    op = "triplet_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _check_float_input(anchor, op)
    positive = _float_tensor(positive, anchor, op, "positive")
    negative = _float_tensor(negative, anchor, op, "negative")
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise ShapeError(
            f"{op}: anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)} and negative "
            f"{tuple(negative.shape)} must all be (N, D) or all (D,)"
        )
    if float(margin) <= 0:
        raise ArgumentError(f"{op}: margin must be greater than 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clip(d_pos - d_neg + float(margin), min=0.0), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """Hinge embedding loss of distances ``input`` with labels ``target`` in {1, -1}:
    ``input`` where target is 1, ``max(0, margin - input)`` where it is -1 (PyTorch's
    definition: a target that is neither gets both terms; the target broadcasts)."""
    op = "hinge_embedding_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _check_float_input(input, op)
    target = _as_tensor(target, input, op)
    t = target.array  # (broadcasts against the input, as in PyTorch)
    loss = where(t != 1, clip(float(margin) - input, min=0.0), 0.0) + where(t != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Two-class logistic loss ``log(1 + exp(-target * input))`` (targets 1 or -1), computed
    stably as ``-logsigmoid(target * input)``."""
    op = "soft_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    target = _float_target(input, target, op)
    return _reduce(-logsigmoid(target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    """Multi-label one-versus-all logistic loss: per sample
    ``-mean_c w_c [y_c logsigmoid(x_c) + (1 - y_c) logsigmoid(-x_c)]`` over the C classes
    (the last dimension); ``weight`` (broadcast to the input) rescales each class."""
    op = "multilabel_soft_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    target = _float_target(input, target, op)
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dimension, (N, C) or (C,); got a 0-d tensor")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * _float_tensor(weight, input, op, "weight")
    C = input.shape[-1]
    loss = loss.sum(axis=-1) / C
    return _reduce(loss, reduction)


def _margin_targets(input, target, op):
    """(N, C) input and (N,) int targets for the multi-class margin losses (unbatched lifted)."""
    _check_float_input(input, op)
    target = _as_tensor(target, input, op)
    if input.ndim not in (1, 2):
        raise ShapeError(f"{op}: input must be (N, C) or (C,), got shape {tuple(input.shape)}")
    if target.array.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {_desc(target)}; use `target.long()`")
    return target


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                      reduce=None, reduction: str = "mean"):
    """Multi-class hinge loss: per sample with class y,
    ``sum_{j != y} w_y max(0, margin - x_y + x_j)^p / C`` (``p`` 1 or 2; ``weight`` one
    factor per class)."""
    op = "multi_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    if p not in (1, 2) or isinstance(p, bool):
        raise ArgumentError(f"{op}: only p == 1 and p == 2 are supported, got {p!r}")
    target = _margin_targets(input, target, op)
    single = input.ndim == 1
    x = input.unsqueeze(0) if single else input
    t = target.array.reshape(-1)
    N, C = x.shape
    if tuple(t.shape) != (N,) or (single and target.ndim != 0 and tuple(target.shape) != (1,)):
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} needs a target of shape "
                         f"{() if single else (N,)}, got {tuple(target.shape)}")
    if t.size and (int(t.min()) < 0 or int(t.max()) >= C):
        bad = int(t[(t < 0) | (t >= C)][0])
        raise IndexError(f"{op}: target value {bad} is out of range for {C} classes (valid: 0 to {C - 1})")
    xp = x.device.xp
    onehot = xp.arange(C)[None, :] == t[:, None]
    x_y = (x * Tensor._make(onehot.astype(x.array.dtype), x.device)).sum(axis=1, keepdims=True)
    z = relu(float(margin) - x_y + x)
    if p == 2:
        z = z * z
    z = z * Tensor._make((~onehot).astype(x.array.dtype), x.device)
    if weight is not None:
        w = _check_weight(weight, input, C, op)
        z = z * Tensor._make(w[t][:, None], x.device)
    loss = z.sum(axis=1) / C
    if single:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-label hinge loss: ``target`` (the input's shape) lists each sample's classes,
    ended by the first -1; per sample
    ``sum_{j in targets} sum_{c not in targets} max(0, 1 - (x_j - x_c)) / C``."""
    op = "multilabel_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    target = _margin_targets(input, target, op)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: target must have the input's shape {tuple(input.shape)} (class lists padded "
                         f"with -1), got {tuple(target.shape)}")
    single = input.ndim == 1
    x = input.unsqueeze(0) if single else input
    N, C = x.shape
    t = _host(target).reshape(N, C)
    if t.size and (int(t.min()) < -1 or int(t.max()) >= C):
        raise IndexError(f"{op}: target values must lie in [-1, {C - 1}] (-1 ends each list), found values "
                         f"from {int(t.min())} to {int(t.max())}")
    counts = (t * 0).astype(x.array.dtype)  # on the host: how often each class is listed
    ended = (t == -1).cumsum(axis=1) > 0
    rows, cols = (~ended).nonzero()
    for r, c in zip(rows.tolist(), cols.tolist()):
        counts[r, int(t[r, c])] += 1
    is_target = counts > 0
    pair = counts[:, :, None] * (~is_target)[:, None, :]  # (N, j, c): j listed, c not
    if x.device.xp.__name__ != "numpy":
        pair = x.device.from_host(pair)
    z = relu(1 - x.unsqueeze(2) + x.unsqueeze(1))  # z[n, j, c] = max(0, 1 - (x_j - x_c))
    loss = (z * Tensor._make(pair.astype(x.array.dtype, copy=False), x.device)).sum(axis=(1, 2)) / C
    if single:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# --- connectionist temporal classification and triplets with any distance (appended) ----------------
import numpy as _np  # noqa: E402  (host-side only: the CTC label tables)

from .indexing import gather  # noqa: E402
from .join import cat  # noqa: E402
__all__ += ["ctc_loss", "triplet_margin_with_distance_loss"]

#: "log 0" of the CTC recursion: a large finite negative, so unreachable states give exact zero
#: weights AND finite gradients (a true -inf would make 0 * nan in the backward).
_CTC_NEG = -1e30


def _host_ints(x, op, what):
    """Lengths/targets given as a Tensor, a sequence or an int -> a host int64 NumPy array."""
    if isinstance(x, Tensor):
        if x.dtype.kind not in "iu":
            raise DTypeError(f"{op}: {what} must be an integer tensor, got {x.dtype}")
        return _np.asarray(x.device.to_host(x.array)).astype(_np.int64)
    arr = _np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be integers, got {x!r}")
    return arr.astype(_np.int64)


def _lse(xp, parts):
    """log(sum(exp(parts))) of tensors, shifted by their (constant) elementwise max."""
    m = parts[0].array
    for p in parts[1:]:
        m = xp.maximum(m, p.array)
    m = Tensor._make(xp.maximum(m, _CTC_NEG), parts[0].device)
    total = exp(parts[0] - m)
    for p in parts[1:]:
        total = total + exp(p - m)
    return m + log(total)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False):
    """Connectionist Temporal Classification loss (Graves et al., 2006): ``-log p(target | input)``
    summed over every alignment of the target to the ``T`` input frames.

    ``log_probs`` (T, N, C) (or unbatched (T, C)) are log-probabilities (``log_softmax`` over
    C); ``targets`` are (N, S) padded or the 1-D concatenation of all targets; ``input_lengths``
    (N) and ``target_lengths`` (N) give each sample's lengths. With the target ``l`` extended
    by blanks, ``l' = (blank, l_1, blank, ..., l_L, blank)``, the log-space forward recursion is::

        alpha_t(s) = log_probs[t, l'_s] + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))

    (the ``s-2`` term only when ``l'_s`` is not blank and differs from ``l'_{s-2}``), and the
    loss is ``-logsumexp(alpha_{T-1}(2L), alpha_{T-1}(2L-1))``. The recursion is written with
    differentiable ops, so autograd gives the gradient (and higher orders). Impossible
    alignments give ``inf`` (0, with zero gradients, when ``zero_infinity``). ``reduction``:
    ``'mean'`` divides each loss by its target length, then averages over the batch (PyTorch);
    ``'sum'``; ``'none'`` gives (N,).

    Gradients match PyTorch's after a ``log_softmax`` (PyTorch's kernel returns the gradient
    with respect to the logits folded into ``log_probs``; this is the exact derivative).
    """
    op = "ctc_loss"
    _check_reduction(reduction, op)
    _check_float_input(log_probs, op)
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise ShapeError(f"{op}: log_probs must be (T, N, C) or unbatched (T, C), got shape {tuple(log_probs.shape)}")
    t_max, n, c = lp.shape
    blank = int(blank)
    if not 0 <= blank < c:
        raise ArgumentError(f"{op}: blank must be a class index in [0, {c}), got {blank}")
    tgt = _host_ints(targets, op, "targets")
    in_len = _host_ints(input_lengths, op, "input_lengths").reshape(-1)
    tg_len = _host_ints(target_lengths, op, "target_lengths").reshape(-1)
    if unbatched and tgt.ndim == 1:
        tgt = tgt.reshape(1, -1)
    if in_len.size != n or tg_len.size != n:
        raise ShapeError(f"{op}: input_lengths and target_lengths must have one entry per batch element ({n}), "
                         f"got {in_len.size} and {tg_len.size}")
    if (in_len < 0).any() or (in_len > t_max).any():
        raise ArgumentError(f"{op}: input_lengths must lie in [0, T={t_max}], got {in_len.tolist()}")
    if (tg_len < 0).any():
        raise ArgumentError(f"{op}: target_lengths must be non-negative, got {tg_len.tolist()}")
    if tgt.ndim == 1:                 # concatenated targets
        if tgt.size != tg_len.sum():
            raise ShapeError(f"{op}: 1-D targets must hold sum(target_lengths) = {int(tg_len.sum())} labels, "
                             f"got {tgt.size}")
        offsets = _np.concatenate([[0], _np.cumsum(tg_len)])
        rows = [tgt[offsets[i]:offsets[i + 1]] for i in range(n)]
    elif tgt.ndim == 2 and tgt.shape[0] == n:
        if (tg_len > tgt.shape[1]).any():
            raise ShapeError(f"{op}: target_lengths {tg_len.tolist()} exceed the padded targets' length {tgt.shape[1]}")
        rows = [tgt[i, :tg_len[i]] for i in range(n)]
    else:
        raise ShapeError(f"{op}: targets must be (N={n}, S) padded or 1-D concatenated, got shape {tgt.shape}")
    for r in rows:
        if r.size and ((r < 0).any() or (r >= c).any() or (r == blank).any()):
            raise ArgumentError(f"{op}: target labels must lie in [0, {c}) and differ from blank={blank}, got "
                                f"{r.tolist()}")
    lmax = int(tg_len.max()) if n else 0
    s_ext = 2 * lmax + 1
    ext = _np.full((n, s_ext), blank, dtype=_np.int64)
    for i, r in enumerate(rows):
        ext[i, 1:2 * len(r):2] = r
    skip = _np.zeros((n, s_ext), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    dev, xp = lp.device, lp.device.xp
    const = lambda a: Tensor._make(dev.from_host(_np.ascontiguousarray(a)), dev)  # noqa: E731
    emit = gather(lp, 2, const(_np.broadcast_to(ext[None], (t_max, n, s_ext))))   # (T, N, S') log p of l'_s
    neg = lambda shape: Tensor._make(xp.full(shape, _CTC_NEG, dtype=lp.dtype), dev)  # noqa: E731
    start = _np.zeros((n, s_ext), dtype=bool)
    start[:, 0] = True
    start[:, 1] = tg_len > 0 if s_ext > 1 else False
    alpha = where(const(start), emit[0], neg((n, s_ext)))
    skip_t = const(skip)
    for t in range(1, t_max):
        a1 = cat([neg((n, 1)), alpha[:, :-1]], axis=1)
        a2 = where(skip_t, cat([neg((n, 2)), alpha[:, :-2]], axis=1), neg((n, s_ext))) if s_ext > 2 else None
        step = emit[t] + _lse(xp, [alpha, a1] + ([a2] if a2 is not None else []))
        alpha = where(const((t < in_len)[:, None] & _np.ones((1, s_ext), dtype=bool)), step, alpha)
    last = 2 * tg_len                                    # index of the final blank
    ends = gather(alpha, 1, const(_np.stack([last, _np.maximum(last - 1, 0)], axis=1)))
    ends = where(const(_np.stack([_np.ones(n, dtype=bool), tg_len > 0], axis=1)), ends, neg((n, 2)))
    loss = -_lse(xp, [ends[:, 0], ends[:, 1]])
    # no frames: probability 1 for an empty target, else impossible (flagged as such below)
    no_frames = _np.where(tg_len == 0, 0.0, -_CTC_NEG).astype(loss.array.dtype)
    loss = where(const(in_len == 0), const(no_frames), loss)
    bad = xp.asarray(loss.array > -_CTC_NEG / 2)
    if bool(bad.any()):
        fill = 0.0 if zero_infinity else _np.inf
        loss = where(Tensor._make(bad, dev), Tensor._make(xp.full((n,), fill, dtype=lp.dtype), dev), loss)
    if reduction == "mean":
        loss = (loss / const(_np.maximum(tg_len, 1).astype(loss.array.dtype))).mean()
    elif reduction == "sum":
        loss = loss.sum()
    elif unbatched:
        loss = loss.squeeze(0)
    return loss


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean"):
    """Triplet loss ``max(d(a, p) − d(a, n) + margin, 0)`` with any distance ``d``.

    ``distance_function(x, y)`` returns one non-negative distance per row (default:
    :func:`pairwise_distance`, the Euclidean one); ``swap=True`` uses ``min(d(a, n), d(p, n))``
    as the negative distance. ``margin`` must be positive.
    """
    op = "triplet_margin_with_distance_loss"
    _check_reduction(reduction, op)
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"{op}: anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)} and negative "
                         f"{tuple(negative.shape)} must have the same number of dimensions")
    if float(margin) <= 0:
        raise ArgumentError(f"{op}: margin must be greater than 0, got {margin}")
    dist = pairwise_distance if distance_function is None else distance_function
    if not callable(dist):
        raise TypeError(f"{op}: distance_function must be callable, got {type(dist).__name__}")
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce(clip(d_pos - d_neg + float(margin), min=0.0), reduction)
