"""Sequence ops and layers against PyTorch (float64, the same weights loaded into both)."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn

torch = pytest.importorskip("torch")


def _t(a, grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _n(a, grad=True):
    return tn.tensor(a, dtype=tn.float64, requires_grad=grad)


def _close(a, b, atol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(a, b, atol=atol, rtol=1e-8)


def _load(tmod, mod):
    mod.load_state_dict({k: tn.tensor(v.detach().numpy(), dtype=tn.float64) for k, v in tmod.state_dict().items()})


@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float", "padding"])
def test_sdpa(case, rng):
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    if case == "causal":
        k, v = k[:, :, :4], v[:, :, :4]
    mask = {"bool": rng.random((4, 6)) > 0.3, "float": rng.standard_normal((2, 1, 4, 6)),
            "padding": np.array([[True] * 4 + [False] * 2, [True] * 6])[:, None, None, :]}.get(case)
    if case == "bool":
        mask[:, 0] = True  # no fully masked rows
    ins_t, ins_n = [_t(a) for a in (q, k, v)], [_n(a) for a in (q, k, v)]
    kw_t = dict(is_causal=case == "causal", attn_mask=None if mask is None else torch.tensor(mask))
    kw_n = dict(is_causal=case == "causal", attn_mask=None if mask is None else tn.tensor(mask, dtype=tn.float64 if mask.dtype != bool else None))
    out_t = torch.nn.functional.scaled_dot_product_attention(*ins_t, **kw_t)
    out_n = F.scaled_dot_product_attention(*ins_n, **kw_n)
    _close(out_t, out_n)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_n.backward(tn.tensor(g, dtype=tn.float64))
    for a, b in zip(ins_t, ins_n):
        _close(a.grad, b.grad)


def test_layer_norm(rng):
    x, w, b = rng.standard_normal((3, 4, 6)), rng.standard_normal(6), rng.standard_normal(6)
    ins_t, ins_n = [_t(a) for a in (x, w, b)], [_n(a) for a in (x, w, b)]
    out_t = torch.nn.functional.layer_norm(ins_t[0], (6,), ins_t[1], ins_t[2], 1e-5)
    out_n = F.layer_norm(ins_n[0], (6,), ins_n[1], ins_n[2], 1e-5)
    _close(out_t, out_n)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_n.backward(tn.tensor(g, dtype=tn.float64))
    for a, c in zip(ins_t, ins_n):
        _close(a.grad, c.grad)


def _check_module(tmod, mod, inputs, loss, rng):
    _load(tmod, mod)
    ins_t, ins_n = [_t(a) for a in inputs], [_n(a) for a in inputs]
    lt, ln = loss(tmod, ins_t, torch), loss(mod, ins_n, tn)
    _close(lt, ln)
    lt.backward()
    ln.backward()
    for a, b in zip(ins_t, ins_n):
        _close(a.grad, b.grad)
    params = dict(mod.named_parameters())
    for name, p in tmod.named_parameters():
        _close(p.grad, params[name].grad)


def test_multihead_attention_self_and_cross(rng):
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    m = nn.MultiheadAttention(8, 2, batch_first=True).to(tn.float64)
    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])

    def self_loss(mod, ins, lib):
        out, w = mod(ins[0], ins[0], ins[0], key_padding_mask=lib.tensor(pad))
        return (out * out).sum() + (w * w).sum()
    _check_module(tm, m, [rng.standard_normal((2, 5, 8))], self_loss, rng)

    def cross_loss(mod, ins, lib):
        out, _ = mod(ins[0], ins[1], ins[1], attn_mask=lib.tensor(np.triu(np.ones((3, 5), dtype=bool), 3)))
        return (out ** 3).sum()
    tm.zero_grad()
    m.zero_grad()
    _check_module(tm, m, [rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 5, 8))], cross_loss, rng)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer(norm_first, activation, rng):
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, batch_first=True,
                                          norm_first=norm_first).double()
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                                  batch_first=True).to(tn.float64)
    pad = np.array([[False] * 4, [False] * 2 + [True] * 2])

    def loss(mod, ins, lib):
        return (mod(ins[0], src_key_padding_mask=lib.tensor(pad)) ** 2).sum()
    _check_module(tm, m, [rng.standard_normal((2, 4, 8))], loss, rng)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers(name, bidirectional, rng):
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, batch_first=True, bidirectional=bidirectional).double()
    m = getattr(nn, name)(3, 4, num_layers=2, batch_first=True, bidirectional=bidirectional).to(tn.float64)
    d = 2 if bidirectional else 1
    inputs = [rng.standard_normal((2, 5, 3)), rng.standard_normal((2 * d, 2, 4)), rng.standard_normal((2 * d, 2, 4))]

    def loss(mod, ins, lib):
        if name == "LSTM":
            out, (h, c) = mod(ins[0], (ins[1], ins[2]))
            return (out ** 2).sum() + (h ** 3).sum() + (c * c).sum()
        out, h = mod(ins[0], ins[1])
        return (out ** 2).sum() + (h ** 3).sum() + 0 * ins[2].sum()
    _check_module(tm, m, inputs, loss, rng)
