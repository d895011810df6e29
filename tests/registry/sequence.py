"""Registry entries for the sequence ops: embedding, layer_norm, scaled_dot_product_attention."""
import math

import numpy as np

import tinynet as tn
import tinynet.functional as F

from . import OpEntry, _n


# --- NumPy float64 references ------------------------------------------------------
def _ref_layer_norm(x, w, b, eps=1e-5, nd=1):
    axes = tuple(range(x.ndim - nd, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _ref_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _ref_sdpa(q, k, v, mask=None, causal=False):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    return _ref_softmax(s) @ v


def _ref_packed(qkv, h, mask=None, causal=False):
    n, L, e3 = qkv.shape
    heads = qkv.reshape(n, L, 3, h, e3 // 3 // h).transpose(2, 0, 3, 1, 4)
    out = _ref_sdpa(heads[0], heads[1], heads[2], mask, causal)
    return out.transpose(0, 2, 1, 3).reshape(n, L, e3 // 3)


def _rnn_args(r, gates, cell_state, n=2, t=4, i=3, h=2):
    args = [_n(r, n, t, i), _n(r, n, h)] + ([_n(r, n, h)] if cell_state else [])
    return args + [_n(r, gates * h, i) * 0.6, _n(r, gates * h, h) * 0.6, _n(r, gates * h) * 0.2, _n(r, gates * h) * 0.2]


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _time(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _ref_lstm(x, h, c, wi, wh, bi, bh, reverse=False):
    H = h.shape[1]
    out = np.zeros((x.shape[0], x.shape[1] + 1, H))
    for t in _time(x.shape[1], reverse):
        g = x[:, t] @ wi.T + bi + h @ wh.T + bh
        c = _sig(g[:, H:2 * H]) * c + _sig(g[:, :H]) * np.tanh(g[:, 2 * H:3 * H])
        h = _sig(g[:, 3 * H:]) * np.tanh(c)
        out[:, t] = h
    out[:, -1] = c
    return out


def _ref_gru(x, h, wi, wh, bi, bh):
    H = h.shape[1]
    out = np.zeros(x.shape[:2] + (H,))
    for t in range(x.shape[1]):
        gi, gh = x[:, t] @ wi.T + bi, h @ wh.T + bh
        r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[:, t] = h
    return out


def _ref_rnn(x, h, wi, wh, bi, bh, relu=False, reverse=False):
    out = np.zeros(x.shape[:2] + (h.shape[1],))
    for t in _time(x.shape[1], reverse):
        a = x[:, t] @ wi.T + bi + h @ wh.T + bh
        h = np.maximum(a, 0) if relu else np.tanh(a)
        out[:, t] = h
    return out


def _ref_scatter(g, ids, rows, pad):
    out = np.zeros((rows, g.shape[-1]))
    np.add.at(out, ids.reshape(-1), g.reshape(-1, g.shape[-1]))
    out[pad] = 0
    return out


_IDS = np.array([[0, 3, 3, 1], [4, 2, 3, 0]])
_PAD = np.array([[True, True, True, False], [True, True, True, True]])  # key padding (N, S)

ENTRIES = [
    OpEntry("embedding", lambda w, ids: F.embedding(ids, w), lambda r: [_n(r, 5, 3), _IDS],
            lambda w, ids: w[ids]),
    # padding_idx blocks the gradient of its row; the output is masked there too, so the
    # true derivative w.r.t. that row is also 0 and finite differences agree.
    OpEntry("embedding_padding_idx",
            lambda w, ids: F.embedding(ids, w, padding_idx=3) * tn.tensor((ids.numpy() != 3)[..., None] * 1.0,
                                                                         dtype=w.dtype, device=w.device),
            lambda r: [_n(r, 5, 3), _IDS], lambda w, ids: w[ids] * (ids != 3)[..., None]),
    # the scatter-add gradient as an op of its own (what create_graph differentiates again)
    OpEntry("embedding_grad_scatter",
            lambda w, ids: tn.autograd.grad((F.embedding(ids, w, padding_idx=4) ** 2).sum(), w, create_graph=True),
            lambda r: [_n(r, 5, 3), _IDS], lambda w, ids: _ref_scatter(2 * w[ids], ids, 5, 4)),
    OpEntry("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b),
            lambda r: [_n(r, 3, 4, 6), _n(r, 6), _n(r, 6)], _ref_layer_norm, fwd_atol=1e-6,
            kernel_families=("layer_norm",)),
    # 150 rows: more than one CUDA block (128 threads) with a partial last block
    OpEntry("layer_norm_many_rows", lambda x, w, b: F.layer_norm(x, 5, w, b, eps=1e-3),
            lambda r: [_n(r, 150, 5), _n(r, 5), _n(r, 5)],
            lambda x, w, b: _ref_layer_norm(x, w, b, 1e-3), fwd_atol=1e-6, mode="random", gradgrad=False,
            kernel_families=("layer_norm",)),
    OpEntry("layer_norm_2d_no_affine", lambda x: F.layer_norm(x, (2, 3)),
            lambda r: [_n(r, 4, 2, 3)], lambda x: _ref_layer_norm(x, 1.0, 0.0, 1e-5, nd=2), fwd_atol=1e-6,
            kernel_families=("layer_norm",)),
    OpEntry("sdpa", F.scaled_dot_product_attention, lambda r: [_n(r, 2, 3, 4), _n(r, 2, 5, 4), _n(r, 2, 5, 3)],
            _ref_sdpa, kernel_families=("attention",)),
    OpEntry("sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda r: [_n(r, 2, 2, 4, 3), _n(r, 2, 2, 4, 3), _n(r, 2, 2, 4, 3)],
            lambda q, k, v: _ref_sdpa(q, k, v, causal=True), kernel_families=("attention",)),
    OpEntry("sdpa_key_padding_bool",
            lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m[:, None, None, :]),
            lambda r: [_n(r, 2, 2, 3, 4), _n(r, 2, 2, 4, 4), _n(r, 2, 2, 4, 2), _PAD],
            lambda q, k, v, m: _ref_sdpa(q, k, v, mask=m[:, None, None, :]), kernel_families=("attention",)),
    OpEntry("sdpa_additive_mask",
            lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
            lambda r: [_n(r, 3, 4), _n(r, 5, 4), _n(r, 5, 2), _n(r, 3, 5)],
            lambda q, k, v, m: _ref_sdpa(q, k, v, mask=m), no_grad=(3,), kernel_families=("attention",)),
    OpEntry("sdpa_dropout_grad",  # dropout draws from the seeded generator; gradcheck re-seeds per call
            lambda q, k, v: (tn.manual_seed(3), F.scaled_dot_product_attention(q, k, v, dropout_p=0.3))[1],
            lambda r: [_n(r, 3, 4), _n(r, 5, 4), _n(r, 5, 2)], None, kernel_families=("attention",)),
    OpEntry("packed_self_attention",
            lambda qkv: F.packed_self_attention(qkv, num_heads=2),
            lambda r: [_n(r, 2, 3, 12)], lambda qkv: _ref_packed(qkv, 2), kernel_families=("attention",)),
    OpEntry("packed_self_attention_causal_padding",
            lambda qkv, m: F.packed_self_attention(qkv, num_heads=2, attn_mask=m[:, None, None, :], is_causal=True),
            lambda r: [_n(r, 2, 4, 6), _PAD], lambda qkv, m: _ref_packed(qkv, 2, m[:, None, None, :], True),
            kernel_families=("attention",)),
    # 128 x 128 scores per head: the cpu's shipped policy takes the fused ops here (cuda does at any size)
    OpEntry("sdpa_causal_long", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda r: [_n(r, 1, 1, 128, 2), _n(r, 1, 1, 128, 2), _n(r, 1, 1, 128, 2)],
            lambda q, k, v: _ref_sdpa(q, k, v, causal=True), mode="random", devices=("cpu",),
            kernel_families=("attention",)),
    OpEntry("packed_self_attention_long", lambda qkv: F.packed_self_attention(qkv, num_heads=1, is_causal=True),
            lambda r: [_n(r, 1, 128, 6)], lambda qkv: _ref_packed(qkv, 1, causal=True), mode="random",
            devices=("cpu",), kernel_families=("attention",)),
    # need_weights: the unfused op (it keeps the probabilities), with the fused softmax rows
    OpEntry("packed_self_attention_weights",
            lambda qkv: F.packed_self_attention(qkv, num_heads=2, need_weights=True, is_causal=True)[0],
            lambda r: [_n(r, 2, 3, 12)], lambda qkv: _ref_packed(qkv, 2, causal=True), kernel_families=("softmax",)),
    # recurrent layers: 2 sequences of 4 steps, 3 inputs, hidden 2 (gates stacked as in PyTorch)
    OpEntry("lstm_layer", lambda x, h, c, wi, wh, bi, bh: F.lstm_layer(x, h, c, wi, wh, bi, bh),
            lambda r: _rnn_args(r, 4, True), lambda *a: _ref_lstm(*a), kernel_families=("lstm",)),
    OpEntry("lstm_layer_reverse", lambda x, h, c, wi, wh, bi, bh: F.lstm_layer(x, h, c, wi, wh, bi, bh, reverse=True),
            lambda r: _rnn_args(r, 4, True), lambda *a: _ref_lstm(*a, reverse=True), gradgrad=False,
            kernel_families=("lstm",)),
    OpEntry("gru_layer", lambda x, h, wi, wh, bi, bh: F.gru_layer(x, h, wi, wh, bi, bh),
            lambda r: _rnn_args(r, 3, False), lambda *a: _ref_gru(*a), kernel_families=("lstm",)),
    OpEntry("rnn_layer_tanh", lambda x, h, wi, wh, bi, bh: F.rnn_layer(x, h, wi, wh, bi, bh),
            lambda r: _rnn_args(r, 1, False), lambda *a: _ref_rnn(*a), kernel_families=("lstm",)),
    OpEntry("rnn_layer_relu_reverse",
            lambda x, h, wi, wh, bi, bh: F.rnn_layer(x, h, wi, wh, bi, bh, nonlinearity="relu", reverse=True),
            lambda r: _rnn_args(r, 1, False), lambda *a: _ref_rnn(*a, relu=True, reverse=True), gradgrad=False,
            kernel_families=("lstm",)),
]
