"""Registry entries for activations (tinynet/functional/activation.py) and losses
(tinynet/functional/loss.py).

Shapes are tiny (the CUDA simulator is slow), but the softmax-family and cross-entropy
entries include one with 130 rows: the cuda kernels run one thread per row in blocks of
128, so that input needs two blocks, the second one partial. Softmax over axis 0 and
over the middle axis exercises the move-axis-to-the-end path. The softmax-family entries
declare the ``softmax`` kernel family, so the grid also runs them through the NumPy
fallback (``softmax=numpy``) and the serial and parallel cpu row loops.
"""
import math

import numpy as np

import tinynet.functional as F

from . import ELEMENTWISE, OpEntry, _apart, _n

_SOFTMAX = ("softmax",)  # the fused softmax / log-softmax / cross-entropy row kernels


def _prob(rng, *shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True, initial=-np.inf)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


_erf = np.vectorize(math.erf, otypes=[float])


def _gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _targets(rng, shape, C, ignore=0):
    t = rng.integers(0, C, size=shape)
    if ignore:
        flat = t.reshape(-1)
        flat[rng.choice(flat.size, ignore, replace=False)] = -100
    return t


def _ce_ref(x, t, reduction="mean", eps=0.0, weight=None):
    """NumPy float64 cross-entropy with PyTorch's definition (class axis 1)."""
    C = x.shape[1]
    logp = _log_softmax(np.moveaxis(x, 1, -1))  # (N, d..., C)
    valid = t != -100
    safe = np.where(valid, t, 0)
    w = np.ones(C) if weight is None else weight
    wt = w[safe] * valid
    nll = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0] * wt
    smooth = -(logp * w).sum(-1) * valid
    if reduction == "none":
        return (1 - eps) * nll + eps / C * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / C * smooth.sum()
    return (1 - eps) * nll.sum() / wt.sum() + eps / C * smooth.sum() / wt.sum()


def _nll_ref(x, t, reduction="mean", weight=None):
    C = x.shape[1]
    valid = t != -100
    safe = np.where(valid, t, 0)
    w = np.ones(C) if weight is None else weight
    wt = w[safe] * valid
    out = -np.take_along_axis(x, np.expand_dims(safe, 1), axis=1).squeeze(1) * wt
    return {"none": out, "sum": out.sum(), "mean": out.sum() / wt.sum()}[reduction]


_W4 = np.array([0.5, 1.0, 2.0, 1.5])


def _bce_logits_ref(z, t, pw=None):
    lw = 1.0 if pw is None else 1 + (pw - 1) * t
    return ((1 - t) * z + lw * np.log1p(np.exp(-z))).mean()


ENTRIES = [
    # --- activations ---
    OpEntry("sigmoid", F.sigmoid, lambda r: [_n(r, 3, 4) * 3], _sigmoid, layouts=ELEMENTWISE),
    OpEntry("sigmoid_method", lambda a: a.sigmoid(), lambda r: [_n(r, 5)], _sigmoid, layouts=ELEMENTWISE),
    OpEntry("relu", F.relu, lambda r: [_apart(r, 3, 4)], lambda a: np.maximum(a, 0),
            layouts=ELEMENTWISE, kernel_families=("relu",)),
    OpEntry("relu_method", lambda a: a.relu(), lambda r: [_apart(r, 2, 3)], lambda a: np.maximum(a, 0),
            layouts=ELEMENTWISE, kernel_families=("relu",)),
    OpEntry("tanh", F.tanh, lambda r: [_n(r, 3, 4)], np.tanh, layouts=ELEMENTWISE),
    OpEntry("softsign", F.softsign, lambda r: [_n(r, 3, 4)], lambda a: a / (1 + np.abs(a)), layouts=ELEMENTWISE),
    OpEntry("tanh_method", lambda a: a.tanh(), lambda r: [_n(r, 4)], np.tanh, layouts=ELEMENTWISE),
    OpEntry("leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda r: [_apart(r, 3, 4)],
            lambda a: np.where(a > 0, a, 0.1 * a), layouts=ELEMENTWISE),
    OpEntry("softplus", F.softplus, lambda r: [_n(r, 3, 4) * 3], _softplus, layouts=ELEMENTWISE),
    OpEntry("softplus_beta_threshold", lambda a: F.softplus(a, beta=2.0, threshold=3.0),
            lambda r: [np.array([-2.0, -0.3, 0.2, 0.9, 1.2, 2.5])], lambda a: _softplus(a, 2.0, 3.0),
            layouts=ELEMENTWISE),
    OpEntry("elu", lambda a: F.elu(a, alpha=0.7), lambda r: [_apart(r, 3, 4)],
            lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)), layouts=ELEMENTWISE),
    OpEntry("hardtanh", F.hardtanh, lambda r: [np.array([-2.5, -1.3, -0.6, 0.2, 0.7, 1.6])],
            lambda a: np.clip(a, -1, 1), layouts=ELEMENTWISE),
    OpEntry("erf", F.erf, lambda r: [_n(r, 2, 3)], _erf, layouts=ELEMENTWISE, kernel_families=("gelu",)),
    OpEntry("gelu", F.gelu, lambda r: [_n(r, 3, 4) * 2], _gelu, layouts=ELEMENTWISE, kernel_families=("gelu",)),
    OpEntry("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), lambda r: [_n(r, 3, 4) * 2], _gelu_tanh,
            layouts=ELEMENTWISE, kernel_families=("gelu",)),
    OpEntry("silu", F.silu, lambda r: [_n(r, 3, 4)], lambda a: a * _sigmoid(a), layouts=ELEMENTWISE),
    OpEntry("softmax", lambda a: F.softmax(a, dim=-1), lambda r: [_n(r, 3, 5)], _softmax,
            layouts=ELEMENTWISE, kernel_families=_SOFTMAX),
    OpEntry("softmax_axis0", lambda a: F.softmax(a, axis=0), lambda r: [_n(r, 4, 3)], lambda a: _softmax(a, 0),
            layouts=ELEMENTWISE, kernel_families=_SOFTMAX),
    OpEntry("softmax_wide", lambda a: a.softmax(-1), lambda r: [_n(r, 2, 20)], _softmax, devices=("cpu",),
            kernel_families=_SOFTMAX),
    OpEntry("softmax_3d_mid_axis", lambda a: F.softmax(a, dim=1), lambda r: [_n(r, 2, 3, 2)],
            lambda a: _softmax(a, 1), kernel_families=_SOFTMAX),
    OpEntry("softmax_130_rows", lambda a: F.softmax(a, dim=1), lambda r: [_n(r, 130, 2)], _softmax,
            kernel_families=_SOFTMAX),
    OpEntry("log_softmax", lambda a: F.log_softmax(a, dim=-1), lambda r: [_n(r, 3, 5)], _log_softmax,
            layouts=ELEMENTWISE, kernel_families=_SOFTMAX),
    OpEntry("log_softmax_axis0", lambda a: a.log_softmax(0), lambda r: [_n(r, 4, 3)], lambda a: _log_softmax(a, 0),
            layouts=ELEMENTWISE, kernel_families=_SOFTMAX),
    OpEntry("log_softmax_wide", lambda a: F.log_softmax(a, dim=1), lambda r: [_n(r, 2, 20)],
            _log_softmax, devices=("cpu",), kernel_families=_SOFTMAX),
    OpEntry("log_softmax_130_rows", lambda a: F.log_softmax(a, dim=-1), lambda r: [_n(r, 130, 2)], _log_softmax,
            kernel_families=_SOFTMAX),
    # --- losses ---
    OpEntry("mse_loss", F.mse_loss, lambda r: [_n(r, 3, 4), _n(r, 3, 4)], lambda a, b: ((a - b) ** 2).mean(),
            layouts=ELEMENTWISE),
    OpEntry("mse_loss_none", lambda a, b: F.mse_loss(a, b, reduction="none"), lambda r: [_n(r, 3), _n(r, 3)],
            lambda a, b: (a - b) ** 2, layouts=ELEMENTWISE),
    OpEntry("l1_loss_sum", lambda a, b: F.l1_loss(a, b, reduction="sum"), lambda r: [_apart(r, 2, 3), _n(r, 2, 3) * 0.01],
            lambda a, b: np.abs(a - b).sum()),
    OpEntry("binary_cross_entropy", F.binary_cross_entropy, lambda r: [_prob(r, 3, 4), _prob(r, 3, 4)],
            lambda p, t: (-(t * np.log(p) + (1 - t) * np.log(1 - p))).mean()),
    OpEntry("binary_cross_entropy_weighted_sum",
            lambda p, t, w: F.binary_cross_entropy(p, t, weight=w, reduction="sum"),
            lambda r: [_prob(r, 2, 4), _prob(r, 2, 4), _W4], lambda p, t, w: (-(t * np.log(p) + (1 - t) * np.log(1 - p)) * w).sum(),
            no_grad=(2,), broadcast=(2,)),
    OpEntry("bce_with_logits", F.binary_cross_entropy_with_logits, lambda r: [_n(r, 3, 4) * 3, _prob(r, 3, 4)],
            _bce_logits_ref),
    OpEntry("bce_with_logits_pos_weight",
            lambda z, t, pw: F.binary_cross_entropy_with_logits(z, t, pos_weight=pw),
            lambda r: [_n(r, 3, 4) * 3, _prob(r, 3, 4), _W4], lambda z, t, pw: _bce_logits_ref(z, t, pw),
            broadcast=(2,)),
    OpEntry("nll_loss", lambda x, t: F.nll_loss(x, t), lambda r: [_n(r, 4, 3), _targets(r, 4, 3, ignore=1)], _nll_ref),
    OpEntry("nll_loss_weighted_none", lambda x, t, w: F.nll_loss(x, t, weight=w, reduction="none"),
            lambda r: [_n(r, 3, 4, 2), _targets(r, (3, 2), 4, ignore=1), _W4],
            lambda x, t, w: _nll_ref(x, t, "none", w), no_grad=(2,)),
    OpEntry("cross_entropy", lambda x, t: F.cross_entropy(x, t), lambda r: [_n(r, 4, 5), _targets(r, 4, 5)], _ce_ref,
            kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_ignore_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
            lambda r: [_n(r, 5, 3), _targets(r, 5, 3, ignore=2)], lambda x, t: _ce_ref(x, t, "sum"),
            kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_smoothing_none_nd",
            lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
            lambda r: [_n(r, 2, 3, 2), _targets(r, (2, 2), 3, ignore=1)], lambda x, t: _ce_ref(x, t, "none", 0.1),
            kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_wide_smoothing", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
            lambda r: [_n(r, 3, 20), _targets(r, 3, 20, ignore=1)], lambda x, t: _ce_ref(x, t, "mean", 0.2),
            devices=("cpu",), kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_130_rows", lambda x, t: F.cross_entropy(x, t),
            lambda r: [_n(r, 130, 2), _targets(r, 130, 2, ignore=3)], _ce_ref, kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_weighted_smoothing",
            lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1),
            lambda r: [_n(r, 5, 4), _targets(r, 5, 4, ignore=1), _W4],
            lambda x, t, w: _ce_ref(x, t, "mean", 0.1, w), no_grad=(2,), kernel_families=_SOFTMAX),
    OpEntry("cross_entropy_probs", lambda x, q: F.cross_entropy(x, q),
            lambda r: [_n(r, 3, 4), _softmax(_n(r, 3, 4))],
            lambda x, q: -(q * _log_softmax(x)).sum(1).mean(), kernel_families=_SOFTMAX),
]
