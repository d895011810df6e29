"""nn layers against PyTorch with PyTorch's default arguments (float64; torch weights loaded
into tinynet by state_dict key): recurrent and attention layers sequence-first by default,
the Transformer family, sdpa's scale / enable_gqa / mask gradient, normalisation layers,
Bilinear, EmbeddingBag, containers, module hooks and the gradient utilities."""
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


def _np(x):
    if x is None:
        return None
    return x.detach().numpy()


def _close(a, b, atol=1e-10):
    np.testing.assert_allclose(_np(a), _np(b), atol=atol, rtol=1e-8)


def _load(tmod, mod):
    """Copy torch's weights into tinynet by state_dict key; the key sets must be the same."""
    sd = tmod.state_dict()
    assert set(sd) == set(mod.state_dict()), (sorted(sd), sorted(mod.state_dict()))
    mod.load_state_dict({k: tn.tensor(v.detach().numpy(), dtype=tn.float64 if v.is_floating_point() else None)
                         for k, v in sd.items()})


def _compare(tmod, mod, arrays, call, rng, grad_idx=None, atol=1e-10):
    """Run ``call(module, inputs, lib)`` in both libraries; compare outputs and every gradient."""
    grad_idx = range(len(arrays)) if grad_idx is None else grad_idx
    ins_t = [_t(a, i in grad_idx) if a.dtype.kind == "f" else torch.tensor(a) for i, a in enumerate(arrays)]
    ins_n = [_n(a, i in grad_idx) if a.dtype.kind == "f" else tn.tensor(a) for i, a in enumerate(arrays)]
    out_t, out_n = call(tmod, ins_t, torch), call(mod, ins_n, tn)
    out_t = out_t if isinstance(out_t, (tuple, list)) else (out_t,)
    out_n = out_n if isinstance(out_n, (tuple, list)) else (out_n,)
    lt = lnn = 0
    for a, b in zip(out_t, out_n):
        if a is None:
            assert b is None
            continue
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b, atol)
        g = rng.standard_normal(tuple(a.shape))
        lt = lt + (a * torch.tensor(g)).sum()
        lnn = lnn + (b * tn.tensor(g, dtype=tn.float64)).sum()
    lt.backward()
    lnn.backward()
    for i in grad_idx:
        _close(ins_t[i].grad, ins_n[i].grad, atol)
    params = dict(mod.named_parameters())
    for name, p in tmod.named_parameters():
        if p.grad is None:
            assert params[name].grad is None or not np.any(params[name].grad.numpy()), name
        else:
            _close(p.grad, params[name].grad, atol)


# --- item 1: the PyTorch defaults (sequence-first) ------------------------------------------
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_recurrent_default_is_sequence_first(name, rng):
    tm = getattr(torch.nn, name)(3, 4).double()            # every argument at its default
    m = getattr(nn, name)(3, 4).to(tn.float64)
    assert m.batch_first is False
    _load(tm, m)
    x = rng.standard_normal((5, 2, 3))                     # (L, N, H_in): sequence-first

    def call(mod, ins, lib):
        out, state = mod(ins[0])
        return (out,) + (tuple(state) if isinstance(state, tuple) else (state,))
    _compare(tm, m, [x], call, rng)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_recurrent_batch_first_and_unbatched(name, rng):
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True).double()
    m = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True).to(tn.float64)
    _load(tm, m)

    def call(mod, ins, lib):
        out, state = mod(ins[0])
        return (out,) + (tuple(state) if isinstance(state, tuple) else (state,))
    _compare(tm, m, [rng.standard_normal((5, 3))], call, rng)          # unbatched (L, H_in)
    tm2 = getattr(torch.nn, name)(3, 4, batch_first=True).double()
    m2 = getattr(nn, name)(3, 4, batch_first=True).to(tn.float64)
    _load(tm2, m2)
    _compare(tm2, m2, [rng.standard_normal((2, 5, 3))], call, rng)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_proj_size(bidirectional, batch_first, rng):
    kw = dict(num_layers=2, bidirectional=bidirectional, proj_size=2, batch_first=batch_first)
    tm, m = torch.nn.LSTM(3, 4, **kw).double(), nn.LSTM(3, 4, **kw).to(tn.float64)
    _load(tm, m)
    d = 2 if bidirectional else 1
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))

    def call(mod, ins, lib):
        out, (h, c) = mod(ins[0], (ins[1], ins[2]))
        return out, h, c
    _compare(tm, m, [x, rng.standard_normal((2 * d, 2, 2)), rng.standard_normal((2 * d, 2, 4))], call, rng)

    def call0(mod, ins, lib):
        out, (h, c) = mod(ins[0])
        return out, h, c
    _compare(tm, m, [rng.standard_normal((5, 3))], call0, rng)          # unbatched, zero state


def test_multihead_attention_default_is_sequence_first(rng):
    tm = torch.nn.MultiheadAttention(8, 2).double()
    m = nn.MultiheadAttention(8, 2).to(tn.float64)
    assert m.batch_first is False
    _load(tm, m)
    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])

    def self_call(mod, ins, lib):
        return mod(ins[0], ins[0], ins[0], key_padding_mask=lib.tensor(pad))
    _compare(tm, m, [rng.standard_normal((5, 2, 8))], self_call, rng)   # (L, N, E)

    def cross_call(mod, ins, lib):
        return mod(ins[0], ins[1], ins[2], average_attn_weights=False)
    tm.zero_grad()
    m.zero_grad()
    _compare(tm, m, [rng.standard_normal((3, 2, 8)), rng.standard_normal((5, 2, 8)),
                     rng.standard_normal((5, 2, 8))], cross_call, rng)


def test_transformer_encoder_layer_default_is_sequence_first(rng):
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).double()
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).to(tn.float64)
    _load(tm, m)
    _compare(tm, m, [rng.standard_normal((4, 3, 8))], lambda mod, ins, lib: mod(ins[0]), rng)


# --- item 2: scaled_dot_product_attention -----------------------------------------------------
@pytest.mark.parametrize("case", ["scale", "gqa", "float_mask_grad", "broadcast_mask_grad", "gqa_causal_bool"])
def test_sdpa_scale_gqa_and_mask_gradient(case, rng):
    hk = 2 if case.startswith("gqa") else 4
    arrays = [rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, hk, 6, 5)), rng.standard_normal((2, hk, 6, 2))]
    kw = dict(scale=0.37) if case == "scale" else {}
    if case.startswith("gqa"):
        kw["enable_gqa"] = True
    if case == "float_mask_grad":
        arrays.append(rng.standard_normal((2, 4, 3, 6)))
    if case == "broadcast_mask_grad":
        arrays.append(rng.standard_normal((3, 6)))
    if case == "gqa_causal_bool":
        kw["is_causal"] = True

    def run(lib, ins):
        f = torch.nn.functional.scaled_dot_product_attention if lib is torch else F.scaled_dot_product_attention
        mask = ins[3] if len(ins) > 3 else None
        return f(ins[0], ins[1], ins[2], attn_mask=mask, **kw)
    ins_t, ins_n = [_t(a) for a in arrays], [_n(a) for a in arrays]
    out_t, out_n = run(torch, ins_t), run(tn, ins_n)
    _close(out_t, out_n)
    g = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    out_n.backward(tn.tensor(g, dtype=tn.float64))
    for a, b in zip(ins_t, ins_n):
        _close(a.grad, b.grad)


# --- item 3: the Transformer family -------------------------------------------------------------
def _mha_call(kind):
    def call(mod, ins, lib):
        q, k, v = ins[0], ins[1], ins[2]
        if kind == "self":
            k = v = q
        kw = {}
        if kind == "bool_mask":
            kw["attn_mask"] = lib.tensor(np.triu(np.ones((3, 5), dtype=bool), 3))
        if kind == "float_mask":
            kw["attn_mask"] = ins[3]
        if kind == "padding":
            kw["key_padding_mask"] = lib.tensor(np.array([[False] * 5, [False] * 2 + [True] * 3]))
        return mod(q if kind != "self" else ins[0], k, v, **kw)
    return call


@pytest.mark.parametrize("options", [dict(), dict(add_bias_kv=True), dict(add_zero_attn=True),
                                     dict(kdim=6, vdim=7), dict(bias=False), dict(batch_first=True),
                                     dict(add_bias_kv=True, add_zero_attn=True, kdim=6, vdim=7)])
@pytest.mark.parametrize("kind", ["cross", "bool_mask", "float_mask", "padding"])
def test_multihead_attention_options(options, kind, rng):
    tm = torch.nn.MultiheadAttention(8, 2, **options).double()
    m = nn.MultiheadAttention(8, 2, **options).to(tn.float64)
    _load(tm, m)
    kd, vd = options.get("kdim", 8), options.get("vdim", 8)
    n_first = options.get("batch_first", False)
    shape = (lambda L, d: (2, L, d)) if n_first else (lambda L, d: (L, 2, d))
    arrays = [rng.standard_normal(shape(3, 8)), rng.standard_normal(shape(5, kd)), rng.standard_normal(shape(5, vd))]
    if kind == "float_mask":
        arrays.append(rng.standard_normal((3, 5)))       # a learned additive mask: gets its gradient
    _compare(tm, m, arrays, _mha_call(kind), rng)


def test_multihead_attention_unbatched_and_per_head_mask(rng):
    tm = torch.nn.MultiheadAttention(8, 2).double()
    m = nn.MultiheadAttention(8, 2).to(tn.float64)
    _load(tm, m)
    mask = np.zeros((2 * 2, 3, 3), dtype=bool)
    mask[:, :, 2] = True
    mask[:, 2, 2] = False

    def call(mod, ins, lib):
        out, w = mod(ins[0], ins[0], ins[0], average_attn_weights=False)
        out2, w2 = mod(ins[1], ins[1], ins[1], attn_mask=lib.tensor(mask))
        return out, w, out2, w2
    _compare(tm, m, [rng.standard_normal((4, 8)), rng.standard_normal((3, 2, 8))], call, rng)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
def test_transformer_decoder_layer(norm_first, activation, rng):
    act_t = torch.nn.functional.silu if activation == "callable" else activation
    act_n = F.silu if activation == "callable" else activation
    tm = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=act_t, norm_first=norm_first).double()
    m = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=act_n, norm_first=norm_first).to(tn.float64)
    _load(tm, m)
    tgt_mask = np.triu(np.ones((4, 4), dtype=bool), 1)
    mem_pad = np.array([[False] * 5, [False] * 3 + [True] * 2])

    def call(mod, ins, lib):
        return mod(ins[0], ins[1], tgt_mask=lib.tensor(tgt_mask), memory_key_padding_mask=lib.tensor(mem_pad))
    _compare(tm, m, [rng.standard_normal((4, 2, 8)), rng.standard_normal((5, 2, 8))], call, rng)


def test_transformer_encoder_and_decoder_stacks(rng):
    tel = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    te = torch.nn.TransformerEncoder(tel, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    el = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    e = nn.TransformerEncoder(el, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False).to(tn.float64)
    _load(te, e)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64).numpy()

    def enc_call(mod, ins, lib):
        return mod(ins[0], mask=lib.tensor(mask), is_causal=True)
    _compare(te, e, [rng.standard_normal((2, 4, 8))], enc_call, rng)
    tdl = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    td = torch.nn.TransformerDecoder(tdl, 2, norm=torch.nn.LayerNorm(8)).double()
    dl = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    d = nn.TransformerDecoder(dl, 2, norm=nn.LayerNorm(8)).to(tn.float64)
    _load(td, d)

    def dec_call(mod, ins, lib):
        return mod(ins[0], ins[1], tgt_mask=lib.tensor(mask), tgt_is_causal=True)
    _compare(td, d, [rng.standard_normal((4, 2, 8)), rng.standard_normal((3, 2, 8))], dec_call, rng)


@pytest.mark.parametrize("batch_first", [False, True])
def test_full_transformer(batch_first, rng):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
              batch_first=batch_first)
    tm = torch.nn.Transformer(**kw).double()
    m = nn.Transformer(**kw).to(tn.float64)
    _load(tm, m)
    src = rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    tgt = rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64).numpy()
    src_pad = np.array([[False] * 5, [False] * 4 + [True]])

    def call(mod, ins, lib):
        return mod(ins[0], ins[1], tgt_mask=lib.tensor(tgt_mask), src_key_padding_mask=lib.tensor(src_pad),
                   memory_key_padding_mask=lib.tensor(src_pad))
    _compare(tm, m, [src, tgt], call, rng)


def test_generate_square_subsequent_mask_matches():
    want = torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()
    got = nn.Transformer.generate_square_subsequent_mask(5)
    assert got.dtype == tn.float32
    np.testing.assert_array_equal(got.numpy(), want)


# --- item 4: layers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(affine, rng):
    tm = torch.nn.GroupNorm(2, 6, affine=affine).double()
    m = nn.GroupNorm(2, 6, affine=affine).to(tn.float64)
    if affine:
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(rng.standard_normal(6)))
            tm.bias.copy_(torch.tensor(rng.standard_normal(6)))
    _load(tm, m)
    _compare(tm, m, [rng.standard_normal((2, 6, 5))], lambda mod, ins, lib: mod(ins[0]), rng)
    _compare(tm, m, [rng.standard_normal((2, 6, 3, 4))], lambda mod, ins, lib: mod(ins[0]), rng)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 5)),
                                       ("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm2d", (3, 4, 5))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instance_norm(cls, shape, affine, track, rng):
    tm = getattr(torch.nn, cls)(3, affine=affine, track_running_stats=track).double()
    m = getattr(nn, cls)(3, affine=affine, track_running_stats=track).to(tn.float64)
    if affine:
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(rng.standard_normal(3)))
            tm.bias.copy_(torch.tensor(rng.standard_normal(3)))
    _load(tm, m)
    _compare(tm, m, [rng.standard_normal(shape)], lambda mod, ins, lib: mod(ins[0]), rng)
    if track:
        _close(tm.running_mean, m.running_mean)
        _close(tm.running_var, m.running_var)
        tm.eval()
        m.eval()
        _compare(tm, m, [rng.standard_normal(shape)], lambda mod, ins, lib: mod(ins[0]), rng)


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 5, 3, 3)])
def test_local_response_norm(size, shape, rng):
    tm, m = torch.nn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5), nn.LocalResponseNorm(size, 0.3, 0.6, 1.5)
    _compare(tm, m, [rng.standard_normal(shape)], lambda mod, ins, lib: mod(ins[0]), rng)


def test_batch_norm_3d(rng):
    tm, m = torch.nn.BatchNorm3d(3).double(), nn.BatchNorm3d(3).to(tn.float64)
    _compare(tm, m, [rng.standard_normal((2, 3, 2, 3, 2))], lambda mod, ins, lib: mod(ins[0]), rng)
    _close(tm.running_mean, m.running_mean)
    _close(tm.running_var, m.running_var)
    tm.eval()
    m.eval()
    _compare(tm, m, [rng.standard_normal((2, 3, 2, 3, 2))], lambda mod, ins, lib: mod(ins[0]), rng)


def test_bilinear(rng):
    tm, m = torch.nn.Bilinear(3, 4, 5).double(), nn.Bilinear(3, 4, 5).to(tn.float64)
    _load(tm, m)
    _compare(tm, m, [rng.standard_normal((2, 3)), rng.standard_normal((2, 4))],
             lambda mod, ins, lib: mod(ins[0], ins[1]), rng)
    _compare(tm, m, [rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4))],
             lambda mod, ins, lib: mod(ins[0], ins[1]), rng)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("form", ["offsets", "last_offset", "2d"])
def test_embedding_bag(mode, padding_idx, form, rng):
    kw = dict(mode=mode, padding_idx=padding_idx, include_last_offset=form == "last_offset")
    tm, m = torch.nn.EmbeddingBag(7, 3, **kw).double(), nn.EmbeddingBag(7, 3, **kw).to(tn.float64)
    _load(tm, m)
    ids = np.array([1, 2, 4, 5, 4, 3, 2, 0, 6])
    offsets = {"offsets": np.array([0, 2, 2, 5]), "last_offset": np.array([0, 2, 2, 5, 9])}.get(form)
    if form == "2d":
        ids = ids.reshape(3, 3)
    arrays = [ids, rng.standard_normal(ids.shape)]

    def call(mod, ins, lib):
        off = None if offsets is None else lib.tensor(offsets)
        return mod(ins[0], off, per_sample_weights=ins[1] if mode == "sum" else None)
    _compare(tm, m, arrays, call, rng, grad_idx=[1] if mode == "sum" else [])


def test_embedding_bag_max_norm_and_freq_scaling(rng):
    w = rng.standard_normal((6, 3)) * 2
    ids = np.array([1, 2, 1, 1, 5, 0])
    off = np.array([0, 3])
    tw, nw = _t(w), _n(w)
    # The documented semantics (each id's gradient divided by its count in the batch), as torch's
    # F.embedding computes it; torch's embedding_bag kernel scales some rows differently.
    rows = torch.nn.functional.embedding(torch.tensor(ids), tw, scale_grad_by_freq=True)
    out_t = torch.stack([rows[:3].sum(0), rows[3:].sum(0)])
    out_n = F.embedding_bag(tn.tensor(ids), nw, tn.tensor(off), mode="sum", scale_grad_by_freq=True)
    _close(out_t, out_n)
    out_t.sum().backward()
    out_n.sum().backward()
    _close(tw.grad, nw.grad)
    tw2, nw2 = torch.tensor(w), tn.tensor(w, dtype=tn.float64)
    out_t = torch.nn.functional.embedding_bag(torch.tensor(ids), tw2, torch.tensor(off), max_norm=1.0)
    out_n = F.embedding_bag(tn.tensor(ids), nw2, tn.tensor(off), max_norm=1.0)
    _close(out_t, out_n, 1e-7)
    _close(tw2, nw2, 1e-7)                              # the looked-up rows renormalised in place


@pytest.mark.parametrize("kw", [dict(scale_grad_by_freq=True), dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0),
                                dict(padding_idx=1, scale_grad_by_freq=True)])
def test_embedding_options(kw, rng):
    w = rng.standard_normal((6, 3)) * 2
    ids = np.array([[1, 2, 1], [1, 5, 0]])
    tm = torch.nn.Embedding(6, 3, _weight=torch.tensor(w), **kw).double()
    m = nn.Embedding(6, 3, _weight=tn.tensor(w, dtype=tn.float64), **kw)
    _compare(tm, m, [ids], lambda mod, ins, lib: mod(ins[0]), rng, grad_idx=[], atol=1e-7)
    _close(tm.weight, m.weight, 1e-7)                   # max_norm renormalises the table in place
    tf = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    nf = nn.Embedding.from_pretrained(tn.tensor(w, dtype=tn.float64))
    assert tf.weight.requires_grad is nf.weight.requires_grad is False
    _close(tf(torch.tensor(ids)), nf(tn.tensor(ids)))


def test_parameter_containers_state_dict_keys():
    class TM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.ones(3))])
            self.pd = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.zeros(2, 2)), "b": torch.nn.Parameter(torch.ones(1))})

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pl = nn.ParameterList([tn.zeros(2), nn.Parameter(tn.ones(3))])
            self.pd = nn.ParameterDict({"a": tn.zeros(2, 2), "b": nn.Parameter(tn.ones(1))})
    t_sd, n_sd = TM().state_dict(), M().state_dict()
    assert list(t_sd) == list(n_sd)
    for k in t_sd:
        assert tuple(t_sd[k].shape) == tuple(n_sd[k].shape)


# --- item 5: hooks and gradient utilities -------------------------------------------------------------
def test_full_backward_hooks_match_torch(rng):
    tm, m = torch.nn.Bilinear(3, 2, 4).double(), nn.Bilinear(3, 2, 4).to(tn.float64)
    _load(tm, m)
    seen = {}
    for mod, lib in ((tm, torch), (m, tn)):
        log = seen.setdefault(lib.__name__, [])
        mod.register_full_backward_pre_hook(lambda mm, go, log=log: log.append(("pre", go)))
        mod.register_full_backward_hook(lambda mm, gi, go, log=log: log.append(("full", gi, go)))
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    g = rng.standard_normal((2, 4))
    for mod, lib, mk in ((tm, torch, _t), (m, tn, _n)):
        a, b = mk(x1), mk(x2, False)                         # only the first input requires grad
        mod(a, b).backward(lib.tensor(g))
    (pt, got), (pn, gon) = seen["torch"], seen["tinynet"]
    assert pt[0] == pn[0] == "pre" and got[0] == gon[0] == "full"
    _close(pt[1][0], pn[1][0])
    assert len(got[1]) == len(gon[1]) == 2
    _close(got[1][0], gon[1][0])
    _close(got[1][1], gon[1][1])                             # zeros for the input needing no grad, as torch
    _close(got[2][0], gon[2][0])


def test_full_backward_hook_replaces_grad_input(rng):
    x = rng.standard_normal((2, 3))
    grads = []
    for lib, mod in ((torch, torch.nn.Tanh()), (tn, nn.Tanh())):
        mod.register_full_backward_hook(lambda mm, gi, go: (gi[0] * 3,))
        t = _t(x) if lib is torch else _n(x)
        (mod(t) ** 2).sum().backward()
        grads.append(t.grad)
    _close(*grads)


def test_gradient_utilities_match_torch(rng):
    ws = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    gs = [rng.standard_normal((3, 2)) * 5, rng.standard_normal(4) * 5]
    for norm_type in (2.0, 1.0, float("inf")):
        pt, pn = [_t(w) for w in ws], [_n(w) for w in ws]
        for p, q, g in zip(pt, pn, gs):
            p.grad, q.grad = torch.tensor(g), tn.tensor(g, dtype=tn.float64)
        tt = torch.nn.utils.clip_grad_norm_(pt, 1.5, norm_type=norm_type, error_if_nonfinite=True, foreach=None)
        tnn = nn.utils.clip_grad_norm_(pn, 1.5, norm_type=norm_type, error_if_nonfinite=True, foreach=None)
        _close(tt, tnn)
        for p, q in zip(pt, pn):
            _close(p.grad, q.grad)
    pt, pn = [_t(w) for w in ws], [_n(w) for w in ws]
    for p, q, g in zip(pt, pn, gs):
        p.grad, q.grad = torch.tensor(g), tn.tensor(g, dtype=tn.float64)
    torch.nn.utils.clip_grad_value_(pt, 0.7)
    nn.utils.clip_grad_value_(pn, 0.7)
    for p, q in zip(pt, pn):
        _close(p.grad, q.grad)
    vt, vn = torch.nn.utils.parameters_to_vector(pt), nn.utils.parameters_to_vector(pn)
    _close(vt, vn)
    (vt ** 2).sum().backward()          # differentiable in both
    (vn ** 2).sum().backward()
    for p, q in zip(pt, pn):
        _close(p.grad, q.grad)
    new = rng.standard_normal(10)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(new), pt)
    nn.utils.vector_to_parameters(tn.tensor(new, dtype=tn.float64), pn)
    for p, q in zip(pt, pn):
        _close(p, q)
