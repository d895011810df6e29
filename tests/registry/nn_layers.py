"""Registry entries for the nn layers' ops: linear, batch_norm (training and eval), dropout."""
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F

from . import OpEntry, _n


def _bn_ref(x, w=None, b=None, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        out = out * w.reshape(shape) + b.reshape(shape)
    return out


def _bn_eval_ref(x, rm, rv, w, b, eps=1e-5):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


def _bn_with_stats(x, w, b):
    """Training mode with running statistics (fresh buffers per call, so repeated calls agree)."""
    c = x.shape[1]
    rm = tn.zeros(c, dtype=x.dtype, device=x.device)
    rv = tn.ones(c, dtype=x.dtype, device=x.device)
    return F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)


def _dropout_seeded(x):
    tn.manual_seed(11)
    return F.dropout(x, 0.4)


def _dropout_ref(x):
    keep = np.random.default_rng(11).random(x.shape) >= 0.4
    return x * keep / 0.6


ENTRIES = [
    OpEntry("linear", F.linear, lambda r: [_n(r, 5, 4), _n(r, 3, 4), _n(r, 3)], lambda x, w, b: x @ w.T + b),
    OpEntry("linear_nobias_batched", lambda x, w: F.linear(x, w), lambda r: [_n(r, 2, 3, 4), _n(r, 5, 4)],
            lambda x, w: x @ w.T),
    OpEntry("linear_vector", F.linear, lambda r: [_n(r, 4), _n(r, 2, 4), _n(r, 2)], lambda x, w, b: w @ x + b),
    OpEntry("batch_norm_train_2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            lambda r: [_n(r, 6, 3), r.uniform(0.5, 1.5, 3), _n(r, 3)], _bn_ref, fwd_atol=1e-6),
    OpEntry("batch_norm_train_4d_stats", _bn_with_stats,
            lambda r: [_n(r, 3, 2, 2, 3), r.uniform(0.5, 1.5, 2), _n(r, 2)], _bn_ref, fwd_atol=1e-6),
    OpEntry("batch_norm_train_3d_noaffine", lambda x: F.batch_norm(x, None, None, training=True),
            lambda r: [_n(r, 3, 2, 4)], _bn_ref, fwd_atol=1e-6),
    OpEntry("batch_norm_eval", lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
            lambda r: [_n(r, 4, 3, 2), _n(r, 3), r.uniform(0.5, 2.0, 3), r.uniform(0.5, 1.5, 3), _n(r, 3)],
            _bn_eval_ref, no_grad=(1, 2)),
    OpEntry("dropout_seeded", _dropout_seeded, lambda r: [_n(r, 4, 5)], _dropout_ref),
]
