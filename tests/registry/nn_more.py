"""Registry entries for 5-D batch_norm, group/instance/local-response norm, bilinear, embedding_bag, the
sdpa options (scale, enable_gqa, a float mask that gets its gradient) and the graph nodes
of nn.Module's full backward hooks."""
import math

import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn

from . import OpEntry, _apart, _n


# --- NumPy float64 references -------------------------------------------------------------
def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _ref_group_norm(x, g, w=None, b=None, eps=1e-5):
    n = x.shape[0]
    xg = x.reshape(n, g, -1)
    y = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + eps)).reshape(x.shape)
    if w is not None:
        y = y * w.reshape(_bshape(x)) + b.reshape(_bshape(x))
    return y


def _ref_instance_norm(x, w, b, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * w.reshape(_bshape(x)) + b.reshape(_bshape(x))


def _ref_instance_norm_eval(x, rm, rv, w, b, eps=1e-5):
    s = _bshape(x)
    return (x - rm.reshape(s)) / np.sqrt(rv.reshape(s) + eps) * w.reshape(s) + b.reshape(s)


def _ref_lrn(x, size, alpha=1e-4, beta=0.75, k=1.0):
    c = x.shape[1]
    sq = x * x
    div = np.zeros_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1)
        div[:, ch] = sq[:, lo:hi].sum(axis=1)
    return x / (k + alpha / size * div) ** beta


def _ref_bilinear(x1, x2, w, b):
    return np.einsum("ni,oij,nj->no", x1, w, x2) + b


def _bags(ids, offsets):
    ends = list(offsets[1:]) + [len(ids)]
    return list(zip(offsets, ends))


def _ref_bag(w, ids, offsets=None, mode="mean", psw=None, padding_idx=None):
    if offsets is None:
        L = ids.shape[1]
        psw = None if psw is None else psw.reshape(-1)
        ids, offsets = ids.reshape(-1), list(range(0, ids.size, L))
    out = np.zeros((len(offsets), w.shape[1]))
    for i, (a, e) in enumerate(_bags(ids, offsets)):
        idx = [j for j in range(a, e) if ids[j] != padding_idx]
        if not idx:
            continue
        rows = w[ids[idx]]
        if mode == "sum":
            out[i] = (rows * (1.0 if psw is None else psw[idx][:, None])).sum(0)
        elif mode == "mean":
            out[i] = rows.mean(0)
        else:
            out[i] = rows.max(0)
    return out


def _ref_sdpa(q, k, v, mask=None, scale=None, gqa=False):
    if gqa:
        r = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, r, axis=-3), np.repeat(v, r, axis=-3)
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        s = s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True) @ v


# --- modules with full backward hooks (exercise the hook graph nodes) ----------------------------
class _Call(nn.Module):
    """A module whose forward is ``fn(*args)``, with a backward pre-hook and a full backward hook
    that hand the gradients back unchanged (returning them exercises the replacement path)."""

    def __init__(self, fn, replace):
        super().__init__()
        self.fn = fn
        self.register_full_backward_pre_hook(lambda m, go: tuple(go) if replace else None)
        self.register_full_backward_hook(lambda m, gi, go: tuple(gi) if replace else None)

    def forward(self, *args):
        return self.fn(*args)


def _hooked_tanh(x):
    return _Call(lambda a: a.tanh(), replace=False)(x)


def _hooked_bilinear(x1, x2, w, b):
    return _Call(F.bilinear, replace=True)(x1, x2, w, b)


def _hooked_two_outputs(a, b):
    o1, o2 = _Call(lambda p, q: (p * q, p.tanh() + q), replace=True)(a, b)
    return o1 * o2


_IDS = np.array([1, 4, 2, 2, 0, 3, 4])
_OFF = np.array([0, 3, 3, 5])
_IDS2D = np.array([[1, 4, 2], [2, 0, 3]])


def _ref_batch_norm_train(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * w.reshape(_bshape(x)) + b.reshape(_bshape(x))


ENTRIES = [
    OpEntry("batch_norm_train_5d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            lambda r: [_n(r, 2, 3, 2, 2, 2), _n(r, 3), _n(r, 3)], _ref_batch_norm_train, fwd_atol=1e-6),
    OpEntry("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
            lambda r: [_n(r, 2, 4, 3), _n(r, 4), _n(r, 4)], lambda x, w, b: _ref_group_norm(x, 2, w, b),
            fwd_atol=1e-6),
    OpEntry("group_norm_4d_no_affine", lambda x: F.group_norm(x, 3, eps=1e-3),
            lambda r: [_n(r, 2, 6, 2, 2)], lambda x: _ref_group_norm(x, 3, eps=1e-3), fwd_atol=1e-6),
    OpEntry("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
            lambda r: [_n(r, 2, 3, 4), _n(r, 3), _n(r, 3)], _ref_instance_norm, fwd_atol=1e-6),
    OpEntry("instance_norm_running_stats",
            lambda x, rm, rv, w, b: F.instance_norm(x, rm, rv, w, b, use_input_stats=False),
            lambda r: [_n(r, 2, 3, 2, 2), _n(r, 3), r.random(3) + 0.5, _n(r, 3), _n(r, 3)],
            _ref_instance_norm_eval, no_grad=(1, 2)),
    OpEntry("local_response_norm", lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.6, k=1.5),
            lambda r: [_n(r, 2, 5, 3)], lambda x: _ref_lrn(x, 3, 0.5, 0.6, 1.5)),
    OpEntry("local_response_norm_4d_even", lambda x: F.local_response_norm(x, 2, alpha=0.3),
            lambda r: [_n(r, 1, 4, 2, 2)], lambda x: _ref_lrn(x, 2, 0.3)),
    OpEntry("bilinear", F.bilinear, lambda r: [_n(r, 3, 2), _n(r, 3, 4), _n(r, 5, 2, 4), _n(r, 5)],
            _ref_bilinear),
    OpEntry("embedding_bag_sum_weights",
            lambda w, psw, ids, off: F.embedding_bag(ids, w, off, mode="sum", per_sample_weights=psw),
            lambda r: [_n(r, 5, 3), _n(r, 7), _IDS, _OFF],
            lambda w, psw, ids, off: _ref_bag(w, ids, list(off), "sum", psw)),
    OpEntry("embedding_bag_mean_padding_2d",
            lambda w, ids: F.embedding_bag(ids, w, mode="mean", padding_idx=2),
            lambda r: [_n(r, 5, 3), _IDS2D], lambda w, ids: _ref_bag(w, ids, None, "mean", padding_idx=2)),
    OpEntry("embedding_bag_max",  # values apart: max has a kink at ties
            lambda w, ids, off: F.embedding_bag(ids, w, off, mode="max"),
            lambda r: [_apart(r, 5, 3), _IDS, _OFF], lambda w, ids, off: _ref_bag(w, ids, list(off), "max")),
    # scale_grad_by_freq deliberately departs from the true derivative for repeated ids (each id's
    # gradient is divided by its count), so gradcheck can only check it with distinct ids; the
    # repeated-id scaling is compared with PyTorch in tests/test_torch_parity_nn_more.py.
    OpEntry("embedding_scale_grad_by_freq_distinct_ids",
            lambda w, ids: F.embedding(ids, w, scale_grad_by_freq=True) * 1.5,
            lambda r: [_n(r, 5, 3), np.array([1, 4, 2, 0, 3])], lambda w, ids: w[ids] * 1.5),
    OpEntry("sdpa_scale_gqa",
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.4, enable_gqa=True),
            lambda r: [_n(r, 1, 4, 3, 2), _n(r, 1, 2, 5, 2), _n(r, 1, 2, 5, 3)],
            lambda q, k, v: _ref_sdpa(q, k, v, scale=0.4, gqa=True), kernel_families=("attention",)),
    # a float mask that requires grad is an input of the attention op: its gradient is dS
    OpEntry("sdpa_float_mask_grad",
            lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
            lambda r: [_n(r, 2, 3, 4), _n(r, 2, 5, 4), _n(r, 2, 5, 3), _n(r, 3, 5)],
            lambda q, k, v, m: _ref_sdpa(q, k, v, m), kernel_families=("softmax",)),
    OpEntry("sdpa_mask_grad_only",
            # (PyTorch refuses attn_mask together with is_causal: the causal part is folded into the mask)
            lambda m, q, k, v: F.scaled_dot_product_attention(
                q, k, v, attn_mask=m + tn.triu(tn.full_like(m, float("-inf")), 1)),
            lambda r: [_n(r, 2, 1, 4, 4), _n(r, 2, 2, 4, 3), _n(r, 2, 2, 4, 3), _n(r, 2, 2, 4, 2)],
            lambda m, q, k, v: _ref_sdpa(q, k, v, m + np.triu(np.full((4, 4), -np.inf), 1)),
            no_grad=(1, 2, 3), kernel_families=("softmax",)),
    OpEntry("module_backward_hook_identity", _hooked_tanh, lambda r: [_n(r, 3, 4)], np.tanh,
            layouts=("noncontig", "0d", "empty")),
    OpEntry("module_backward_hook_packed_inputs", _hooked_bilinear,
            lambda r: [_n(r, 3, 2), _n(r, 3, 4), _n(r, 5, 2, 4), _n(r, 5)], _ref_bilinear),
    OpEntry("module_backward_hook_packed_outputs", _hooked_two_outputs, lambda r: [_n(r, 2, 3), _n(r, 2, 3)],
            lambda a, b: a * b * (np.tanh(a) + b)),
]
