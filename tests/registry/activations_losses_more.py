"""Registry entries for the further activations (tinynet/functional/activation.py), losses
(tinynet/functional/loss.py) and distances (tinynet/functional/distance.py): hardsigmoid,
hardswish, relu6, selu, celu, mish, softmin, logsigmoid, glu, prelu, rrelu, hardshrink,
softshrink, tanhshrink, threshold; smooth_l1/huber/kl_div/poisson/gaussian NLL and the
margin/embedding losses; normalize, cosine_similarity, pairwise_distance.

Inputs keep away from the kinks (``_apart`` values, thresholds between them) so that
gradcheck's finite differences never straddle one. Shapes are tiny (CUDA simulator).
"""
import math

import numpy as np

import tinynet as tn
import tinynet.functional as F

from . import ELEMENTWISE, OpEntry, _apart, _n

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _distillation_ref(s, t, y, T=3.0, alpha=0.7):
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) (batchmean) + (1 - alpha) * CE(s, y)."""
    log_p, log_q = _log_softmax(t / T), _log_softmax(s / T)
    kl = (np.exp(log_p) * (log_p - log_q)).sum() / len(s)
    ce = -_log_softmax(s)[np.arange(len(s)), y.astype(int)].mean()
    return alpha * T * T * kl + (1 - alpha) * ce


def _prob(rng, *shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _pos(rng, *shape):
    return rng.uniform(0.3, 2.0, size=shape)


def _pm1(rng, *shape):
    return np.where(rng.permutation(int(np.prod(shape))).reshape(shape) % 2 == 0, 1.0, -1.0)


def _distinct_abs(rng, *shape):
    """Values whose magnitudes are all distinct (no ties for a max-norm) and away from 0."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) + 1) * 0.3 * np.where(rng.random(n) < 0.5, -1, 1)).reshape(shape)


def _rrelu_train(a, seed=3, lower=0.1, upper=0.4):
    """rrelu in training with the global generator seeded to ``seed`` (deterministic)."""
    tn.manual_seed(seed)
    return F.rrelu(a, lower, upper, training=True)


def _rrelu_train_ref(a, seed=3, lower=0.1, upper=0.4):
    slopes = np.random.default_rng(seed).uniform(lower, upper, size=a.shape or (1,)).reshape(a.shape)
    return np.where(a >= 0, a, a * slopes)


def _norm(x, p, axis, keepdims=False):
    ax = np.abs(x)
    if p == math.inf:
        return ax.max(axis=axis, keepdims=keepdims)
    return (ax ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


def _cos_ref(a, b, dim=1, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt((a * a).sum(dim, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(dim, keepdims=True)), eps)
    return ((a / na) * (b / nb)).sum(dim)


def _pdist_ref(a, b, p=2.0, eps=1e-6, keepdim=False):
    return _norm(a - b + eps, p, -1, keepdim)


def _smooth_l1(a, b, beta):
    d = np.abs(a - b)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def _huber(a, b, delta):
    d = np.abs(a - b)
    return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def _logsig(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _gauss(x, t, v, full=False):
    out = 0.5 * (np.log(v) + (x - t) ** 2 / v)
    return out + 0.5 * math.log(2 * math.pi) if full else out


def _cos_emb(a, b, t, margin):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    return np.where(t == 1, 1 - cos, 0) + np.where(t == -1, np.maximum(cos - margin, 0), 0)


def _triplet(a, p, n, margin=1.0, pn=2.0, swap=False):
    dp, dn = _pdist_ref(a, p, pn), _pdist_ref(a, n, pn)
    if swap:
        dn = np.minimum(dn, _pdist_ref(p, n, pn))
    return np.maximum(dp - dn + margin, 0)


def _multi_margin(x, t, p=1, margin=1.0, w=None):
    N, C = x.shape
    xy = x[np.arange(N), t][:, None]
    z = np.maximum(margin - xy + x, 0) ** p
    z[np.arange(N), t] = 0
    if w is not None:
        z = z * w[t][:, None]
    return z.sum(1) / C


def _multilabel_margin(x, t):
    N, C = x.shape
    out = np.zeros(N)
    for n in range(N):
        js = []
        for v in t[n]:
            if v == -1:
                break
            js.append(int(v))
        others = [c for c in range(C) if c not in js]
        out[n] = sum(max(0.0, 1 - (x[n, j] - x[n, c])) for j in js for c in others) / C
    return out


_W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.8])
_LABELS = np.array([[3, 0, -1, 1, 0], [1, 2, 4, -1, 0], [-1, 0, 0, 0, 0]])
_CLASSES = np.array([0, 3, 2, 4])

ENTRIES = [
    # --- activations ---
    OpEntry("hardsigmoid", F.hardsigmoid, lambda r: [_apart(r, 3, 4) * 4.1],  # no value near -3, 0, 3 or 6
            lambda a: np.clip(a + 3, 0, 6) / 6, layouts=ELEMENTWISE),
    OpEntry("hardswish", F.hardswish, lambda r: [_apart(r, 3, 4) * 4.1],  # no value near -3, 0, 3 or 6
            lambda a: a * np.clip(a + 3, 0, 6) / 6, layouts=ELEMENTWISE),
    OpEntry("hardswish_inplace", lambda a: F.hardswish(a * 1, inplace=True), lambda r: [_apart(r, 2, 4) * 3],
            lambda a: a * np.clip(a + 3, 0, 6) / 6),
    OpEntry("relu6", F.relu6, lambda r: [_apart(r, 3, 4) * 4.1],  # no value near -3, 0, 3 or 6
            lambda a: np.clip(a, 0, 6), layouts=ELEMENTWISE),
    OpEntry("selu", F.selu, lambda r: [_apart(r, 3, 4)], lambda a: _SELU_SCALE * _elu(a, _SELU_ALPHA),
            layouts=ELEMENTWISE),
    OpEntry("selu_inplace", lambda a: F.selu_(a * 1), lambda r: [_apart(r, 2, 3)],
            lambda a: _SELU_SCALE * _elu(a, _SELU_ALPHA)),
    OpEntry("celu", lambda a: F.celu(a, alpha=0.7), lambda r: [_apart(r, 3, 4)],
            lambda a: np.maximum(a, 0) + np.minimum(0, 0.7 * np.expm1(np.minimum(a, 0) / 0.7)), layouts=ELEMENTWISE),
    OpEntry("mish", F.mish, lambda r: [_n(r, 3, 4) * 2], lambda a: a * np.tanh(_softplus(a)), layouts=ELEMENTWISE),
    OpEntry("softmin", lambda a: F.softmin(a, dim=1), lambda r: [_n(r, 3, 4)], lambda a: _softmax(-a, 1),
            kernel_families=("softmax",)),
    OpEntry("softmin_dtype", lambda a: F.softmin(a, 0, dtype=tn.float64), lambda r: [_n(r, 4, 2)],
            lambda a: _softmax(-a, 0), keeps_dtype=False, kernel_families=("softmax",)),
    OpEntry("logsigmoid", F.logsigmoid, lambda r: [_n(r, 3, 4) * 4], _logsig, layouts=ELEMENTWISE),
    OpEntry("glu", lambda a: F.glu(a, dim=1), lambda r: [_n(r, 3, 4)],
            lambda a: a[:, :2] * _sigmoid(a[:, 2:])),
    OpEntry("glu_last", F.glu, lambda r: [_n(r, 2, 3, 2)], lambda a: a[..., :1] * _sigmoid(a[..., 1:])),
    OpEntry("prelu_shared", F.prelu, lambda r: [_apart(r, 3, 4), np.array([0.25])],
            lambda a, w: np.where(a > 0, a, w * a), layouts=ELEMENTWISE),
    OpEntry("prelu_channels", F.prelu, lambda r: [_apart(r, 2, 3, 2), np.array([0.1, 0.3, 0.6])],
            lambda a, w: np.where(a > 0, a, w[None, :, None] * a)),
    OpEntry("prelu_method", lambda a, w: a.prelu(w), lambda r: [_apart(r, 4, 2), np.array([0.2, -0.4])],
            lambda a, w: np.where(a > 0, a, w * a)),
    OpEntry("rrelu_eval", lambda a: F.rrelu(a, 0.1, 0.3), lambda r: [_apart(r, 3, 4)],
            lambda a: np.where(a >= 0, a, 0.2 * a), layouts=ELEMENTWISE),
    OpEntry("rrelu_training", _rrelu_train, lambda r: [_apart(r, 3, 4)], _rrelu_train_ref,
            layouts=ELEMENTWISE),
    OpEntry("hardshrink", lambda a: F.hardshrink(a, 0.5), lambda r: [_apart(r, 3, 5) + 0.07],
            lambda a: np.where(np.abs(a) > 0.5, a, 0), layouts=ELEMENTWISE),
    OpEntry("hardshrink_method", lambda a: a.hardshrink(), lambda r: [_apart(r, 2, 5) + 0.07],
            lambda a: np.where(np.abs(a) > 0.5, a, 0)),
    OpEntry("softshrink", lambda a: F.softshrink(a, 0.4), lambda r: [_apart(r, 3, 5) + 0.07],
            lambda a: np.where(a > 0.4, a - 0.4, np.where(a < -0.4, a + 0.4, 0)), layouts=ELEMENTWISE),
    OpEntry("tanhshrink", F.tanhshrink, lambda r: [_n(r, 3, 4)], lambda a: a - np.tanh(a), layouts=ELEMENTWISE),
    OpEntry("threshold", lambda a: F.threshold(a, 0.1, -2.0), lambda r: [_apart(r, 3, 4) + 0.05],
            lambda a: np.where(a > 0.1, a, -2.0), layouts=ELEMENTWISE),
    OpEntry("threshold_inplace", lambda a: F.threshold_(a * 1, 0.1, 5.0), lambda r: [_apart(r, 3, 4) + 0.05],
            lambda a: np.where(a > 0.1, a, 5.0)),
    # --- distances ---
    OpEntry("normalize", F.normalize, lambda r: [_n(r, 3, 4)],
            lambda a: a / np.maximum(_norm(a, 2, 1, True), 1e-12)),
    OpEntry("normalize_p3_dim0", lambda a: F.normalize(a, p=3, dim=0), lambda r: [_n(r, 3, 4)],
            lambda a: a / _norm(a, 3, 0, True)),
    OpEntry("normalize_p1_dims", lambda a: F.normalize(a, p=1, dim=(1, 2)), lambda r: [_apart(r, 2, 2, 3)],
            lambda a: a / _norm(a, 1, (1, 2), True)),
    OpEntry("normalize_pinf", lambda a: F.normalize(a, p=math.inf, dim=-1), lambda r: [_distinct_abs(r, 3, 4)],
            lambda a: a / _norm(a, math.inf, -1, True)),
    OpEntry("cosine_similarity", F.cosine_similarity, lambda r: [_n(r, 3, 4), _n(r, 3, 4)], _cos_ref,
            broadcast=(1,)),
    OpEntry("cosine_similarity_dim_last", lambda a, b: F.cosine_similarity(a, b, dim=-1, eps=1e-6),
            lambda r: [_n(r, 2, 3, 4), _n(r, 3, 4)], lambda a, b: _cos_ref(a, b, -1, 1e-6)),
    OpEntry("pairwise_distance", F.pairwise_distance, lambda r: [_n(r, 3, 4), _n(r, 3, 4)], _pdist_ref,
            broadcast=(1,)),
    OpEntry("pairwise_distance_p1_keepdim", lambda a, b: F.pairwise_distance(a, b, p=1, keepdim=True),
            lambda r: [_apart(r, 3, 4), _apart(r, 3, 4) * 0.5 + 0.01],
            lambda a, b: _pdist_ref(a, b, 1.0, keepdim=True)),
    OpEntry("pairwise_distance_p3", lambda a, b: F.pairwise_distance(a, b, p=3), lambda r: [_n(r, 3, 4), _n(r, 3, 4)],
            lambda a, b: _pdist_ref(a, b, 3.0)),
    # --- losses ---
    OpEntry("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), lambda r: [_n(r, 3, 4), _n(r, 3, 4)],
            lambda a, b: _smooth_l1(a, b, 0.5).mean(), layouts=ELEMENTWISE),
    OpEntry("smooth_l1_loss_none_beta0", lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.0),
            lambda r: [_apart(r, 3, 4), _n(r, 3, 4) * 0.01], lambda a, b: np.abs(a - b)),
    OpEntry("huber_loss_sum", lambda a, b: F.huber_loss(a, b, reduction="sum", delta=0.8),
            lambda r: [_n(r, 3, 4), _n(r, 3, 4)], lambda a, b: _huber(a, b, 0.8).sum(), layouts=ELEMENTWISE),
    OpEntry("huber_loss_weight", lambda a, b, w: F.huber_loss(a, b, weight=w),
            lambda r: [_n(r, 3, 4), _n(r, 3, 4), _pos(r, 3, 4)], lambda a, b, w: (_huber(a, b, 1.0) * w).mean()),
    OpEntry("kl_div_batchmean", lambda a, b: F.kl_div(a, b, reduction="batchmean"),
            lambda r: [_n(r, 3, 4), _prob(r, 3, 4)], lambda a, b: (b * (np.log(b) - a)).sum() / 3),
    OpEntry("kl_div_log_target_none", lambda a, b: F.kl_div(a, b, reduction="none", log_target=True),
            lambda r: [_n(r, 3, 4), _n(r, 3, 4)], lambda a, b: np.exp(b) * (b - a), layouts=ELEMENTWISE),
    OpEntry("distillation_loss", lambda s, t, y: F.distillation_loss(s, t, y, temperature=3.0, alpha=0.7),
            lambda r: [_n(r, 4, 5), _n(r, 4, 5), r.integers(0, 5, size=4)], _distillation_ref, no_grad=(1,),
            kernel_families=("softmax",)),
    OpEntry("poisson_nll_loss", F.poisson_nll_loss, lambda r: [_n(r, 3, 4), _pos(r, 3, 4) * 2],
            lambda a, t: (np.exp(a) - t * a).mean(), layouts=ELEMENTWISE),
    OpEntry("poisson_nll_loss_rate_full_sum",
            lambda a, t: F.poisson_nll_loss(a, t, log_input=False, full=True, reduction="sum"),
            lambda r: [_pos(r, 3, 4), _pos(r, 3, 4) * 2],
            lambda a, t: (a - t * np.log(a + 1e-8)
                          + np.where(t > 1, t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t), 0)).sum()),
    OpEntry("gaussian_nll_loss", F.gaussian_nll_loss, lambda r: [_n(r, 3, 4), _n(r, 3, 4), _pos(r, 3, 4)],
            lambda a, t, v: _gauss(a, t, v).mean()),
    OpEntry("gaussian_nll_loss_row_var_full_none",
            lambda a, t, v: F.gaussian_nll_loss(a, t, v, full=True, reduction="none"),
            lambda r: [_n(r, 3, 4), _n(r, 3, 4), _pos(r, 3)], lambda a, t, v: _gauss(a, t, v[:, None], True)),
    OpEntry("cosine_embedding_loss", lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=-0.5),
            lambda r: [_n(r, 4, 3), _n(r, 4, 3), np.array([1, -1, 1, -1])],
            lambda a, b, t: _cos_emb(a, b, t, -0.5).mean()),
    OpEntry("cosine_embedding_loss_sum", lambda a, b, t: F.cosine_embedding_loss(a, b, t, reduction="sum"),
            lambda r: [_n(r, 4, 3), _n(r, 4, 3), np.array([1, 1, -1, 1])],
            lambda a, b, t: _cos_emb(a, b, t, 0.0).sum()),
    OpEntry("margin_ranking_loss", lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.2),
            lambda r: [_apart(r, 6), _apart(r, 6) * 0.7 + 0.013, _pm1(r, 6)],
            lambda a, b, t: np.maximum(-t * (a - b) + 0.2, 0).mean(), no_grad=(2,)),
    OpEntry("triplet_margin_loss", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0),
            lambda r: [_n(r, 3, 4), _n(r, 3, 4), _n(r, 3, 4)], lambda a, p, n: _triplet(a, p, n, 2.0).mean()),
    OpEntry("triplet_margin_loss_swap_p1_none",
            lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=3.0, p=1, swap=True, reduction="none"),
            lambda r: [_apart(r, 3, 4), _apart(r, 3, 4) * 0.6 + 0.011, _apart(r, 3, 4) * 0.3 + 0.017],
            lambda a, p, n: _triplet(a, p, n, 3.0, 1.0, True)),
    OpEntry("hinge_embedding_loss", lambda x, t: F.hinge_embedding_loss(x, t, margin=1.0),
            lambda r: [_apart(r, 3, 4) + 0.013, _pm1(r, 3, 4)],
            lambda x, t: np.where(t == 1, x, np.maximum(1.0 - x, 0)).mean(), no_grad=(1,)),
    OpEntry("soft_margin_loss", F.soft_margin_loss, lambda r: [_n(r, 3, 4) * 2, _pm1(r, 3, 4)],
            lambda x, t: np.log1p(np.exp(-t * x)).mean(), no_grad=(1,), layouts=ELEMENTWISE),
    OpEntry("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss,
            lambda r: [_n(r, 3, 5), (_prob(r, 3, 5) > 0.5).astype(float)],
            lambda x, t: (-(t * _logsig(x) + (1 - t) * _logsig(-x))).mean(-1).mean(), no_grad=(1,)),
    OpEntry("multilabel_soft_margin_loss_weight_none",
            lambda x, t, w: F.multilabel_soft_margin_loss(x, t, weight=w, reduction="none"),
            lambda r: [_n(r, 3, 5), _prob(r, 3, 5), _W5],
            lambda x, t, w: (-(t * _logsig(x) + (1 - t) * _logsig(-x)) * w).mean(-1), no_grad=(2,)),
    OpEntry("multi_margin_loss", lambda x, t: F.multi_margin_loss(x, t, margin=0.9),
            lambda r: [_apart(r, 4, 5) * 0.37, _CLASSES], lambda x, t: _multi_margin(x, t, 1, 0.9).mean(),
            kernel_families=("relu",)),
    OpEntry("multi_margin_loss_p2_weight_sum",
            lambda x, t, w: F.multi_margin_loss(x, t, p=2, weight=w, reduction="sum"),
            lambda r: [_n(r, 4, 5), _CLASSES, _W5], lambda x, t, w: _multi_margin(x, t, 2, 1.0, w).sum(),
            no_grad=(2,), kernel_families=("relu",)),
    OpEntry("multilabel_margin_loss", F.multilabel_margin_loss, lambda r: [_apart(r, 3, 5) * 0.37, _LABELS],
            lambda x, t: _multilabel_margin(x, t).mean(), kernel_families=("relu",)),
]
