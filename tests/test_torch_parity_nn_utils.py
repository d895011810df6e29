"""PyTorch parity of nn.utils (packed sequences, weight reparametrisations, fusion,
functional_call), the extra nn.init functions and the Module API additions: the same inputs
and weights in tinynet and torch, float64, values and gradients compared."""
from __future__ import annotations

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn

torch = pytest.importorskip("torch")
R = nn.utils.rnn
TR = torch.nn.utils.rnn


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _n(a, grad=False):
    return tn.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _close(a, b, tol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol)


def _copy_weights(src_torch, dst_tn):
    sd = {k: tn.tensor(v.detach().numpy()) for k, v in src_torch.state_dict().items()}
    dst_tn.load_state_dict(sd)


# --- 1. packing utilities -----------------------------------------------------------------------
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 2, 2, 1]), (False, [2, 4, 1, 2])])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_roundtrip_matches_torch(enforce_sorted, lengths, batch_first):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 4, 3))  # (T, B, F)
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    xn, xt = _n(x, True), _t(x, True)
    pn = R.pack_padded_sequence(xn, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = TR.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    _close(pn.data, pt.data)
    assert pn.batch_sizes.tolist() == pt.batch_sizes.tolist()
    if enforce_sorted:
        assert pn.sorted_indices is None and pt.sorted_indices is None and pn.unsorted_indices is None
    else:
        assert pn.sorted_indices.tolist() == pt.sorted_indices.tolist()
        assert pn.unsorted_indices.tolist() == pt.unsorted_indices.tolist()
    an, ln = R.pad_packed_sequence(pn, batch_first=batch_first, padding_value=-2.0, total_length=6)
    at, lt = TR.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-2.0, total_length=6)
    _close(an, at)
    assert ln.tolist() == lt.tolist() and ln.dtype == tn.int64
    w = np.random.default_rng(1).standard_normal(tuple(at.shape))
    (an * _n(w)).sum().backward()
    (at * _t(w)).sum().backward()
    _close(xn.grad, xt.grad)


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_and_pack_sequence_match_torch(padding_side, batch_first):
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((k, 2)) for k in (3, 1, 4)]
    sn = [_n(s, True) for s in seqs]
    st = [_t(s, True) for s in seqs]
    pn = R.pad_sequence(sn, batch_first=batch_first, padding_value=0.5, padding_side=padding_side)
    pt = TR.pad_sequence(st, batch_first=batch_first, padding_value=0.5, padding_side=padding_side)
    _close(pn, pt)
    (pn ** 2).sum().backward()
    (pt ** 2).sum().backward()
    for a, b in zip(sn, st):
        _close(a.grad, b.grad)
    kn = R.pack_sequence(sn, enforce_sorted=False)
    kt = TR.pack_sequence(st, enforce_sorted=False)
    _close(kn.data, kt.data)
    assert kn.batch_sizes.tolist() == kt.batch_sizes.tolist()
    for a, b in zip(R.unpack_sequence(kn), TR.unpack_sequence(kt)):
        _close(a, b)
    lens = [3, 1, 4]
    for a, b in zip(R.unpad_sequence(pn if padding_side == "right" else R.pad_sequence(sn, batch_first), lens,
                                     batch_first),
                    TR.unpad_sequence(pt if padding_side == "right" else TR.pad_sequence(st, batch_first),
                                      torch.tensor(lens), batch_first)):
        _close(a, b)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "LSTMproj"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_on_packed_sequences_match_torch(kind, enforce_sorted, batch_first):
    rng = np.random.default_rng(3)
    kw = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    name = "LSTM" if kind == "LSTMproj" else kind
    if kind == "LSTMproj":
        kw["proj_size"] = 2
    torch.manual_seed(0)
    mt = getattr(torch.nn, name)(3, 4, **kw).double()
    mn = getattr(nn, name)(3, 4, **kw).double()
    _copy_weights(mt, mn)
    lengths = [4, 3, 3, 1] if enforce_sorted else [3, 4, 1, 3]
    x = rng.standard_normal((4, 4, 3))
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    xn, xt = _n(x, True), _t(x, True)
    hsize = 2 if kind == "LSTMproj" else 4
    h0 = rng.standard_normal((4, 4, hsize))
    c0 = rng.standard_normal((4, 4, 4))
    h0n, h0t = _n(h0, True), _t(h0, True)
    c0n, c0t = _n(c0, True), _t(c0, True)
    pn = R.pack_padded_sequence(xn, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = TR.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    if name == "LSTM":
        on, (hn, cn) = mn(pn, (h0n, c0n))
        ot, (ht, ct) = mt(pt, (h0t, c0t))
        _close(cn, ct)
    else:
        on, hn = mn(pn, h0n)
        ot, ht = mt(pt, h0t)
    assert isinstance(on, R.PackedSequence)
    _close(on.data, ot.data)
    _close(hn, ht)
    assert on.batch_sizes.tolist() == ot.batch_sizes.tolist()
    yn, _ = R.pad_packed_sequence(on, batch_first=batch_first)
    yt, _ = TR.pad_packed_sequence(ot, batch_first=batch_first)
    _close(yn, yt)
    wy = rng.standard_normal(tuple(yt.shape))
    wh = rng.standard_normal(tuple(ht.shape))
    loss_n = (yn * _n(wy)).sum() + (hn * _n(wh)).sum()
    loss_t = (yt * _t(wy)).sum() + (ht * _t(wh)).sum()
    if name == "LSTM":
        loss_n = loss_n + (cn * cn).sum()
        loss_t = loss_t + (ct * ct).sum()
    loss_n.backward()
    loss_t.backward()
    _close(xn.grad, xt.grad, 1e-9)
    _close(h0n.grad, h0t.grad, 1e-9)
    if name == "LSTM":
        _close(c0n.grad, c0t.grad, 1e-9)
    tgrads = dict(mt.named_parameters())
    for k, p in mn.named_parameters():
        _close(p.grad, tgrads[k].grad, 1e-9)


def test_recurrent_layer_packed_without_initial_state_matches_torch():
    torch.manual_seed(1)
    mt = torch.nn.GRU(2, 3).double()
    mn = nn.GRU(2, 3).double()
    _copy_weights(mt, mn)
    seqs = [np.random.default_rng(4).standard_normal((k, 2)) for k in (2, 5, 3)]
    on, hn = mn(R.pack_sequence([_n(s) for s in seqs], enforce_sorted=False))
    ot, ht = mt(TR.pack_sequence([_t(s) for s in seqs], enforce_sorted=False))
    _close(on.data, ot.data)
    _close(hn, ht)


# --- 2. weight reparametrisations ---------------------------------------------------------------
class _Affine(nn.Module):
    """``x W^T + b`` reading its attributes (nn.Linear's fast path reads its parameter table
    directly, which reparametrisations replace; see the report)."""

    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(tn.zeros(o, i, dtype=tn.float64))
        self.bias = nn.Parameter(tn.zeros(o, dtype=tn.float64))

    def forward(self, x):
        return nn.functional.linear(x, self.weight, self.bias)


def _pair_linear(seed=0, i=4, o=3):
    torch.manual_seed(seed)
    mt = torch.nn.Linear(i, o).double()
    mn = _Affine(i, o)
    _copy_weights(mt, mn)
    return mt, mn


def _pair_conv(seed=0):
    torch.manual_seed(seed)
    mt = torch.nn.Conv2d(2, 3, 2).double()
    mn = nn.Conv2d(2, 3, 2).double()
    _copy_weights(mt, mn)
    return mt, mn


def _grads_match(mt, mn, tol=1e-9):
    tg = dict(mt.named_parameters())
    ng = dict(mn.named_parameters())
    assert set(tg) == set(ng)
    for k, p in ng.items():
        _close(p.grad, tg[k].grad, tol)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm_matches_torch(dim):
    mt, mn = _pair_conv()
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(mt, dim=dim)
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(mn, dim=dim)
    assert set(mn.state_dict()) == set(mt.state_dict()) == {"weight_g", "weight_v", "bias"}
    _close(mn.weight_g, mt.weight_g)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    mn(_n(x)).pow(2).sum().backward()
    mt(_t(x)).pow(2).sum().backward()
    _grads_match(mt, mn)
    with torch.no_grad():
        mt.weight_g.mul_(2)
    mn.weight_g.data.mul_(2)
    _close(mn(_n(x)), mt(_t(x)))
    torch.nn.utils.remove_weight_norm(mt)
    nn.utils.remove_weight_norm(mn)
    assert set(mn.state_dict()) == {"weight", "bias"}
    _close(mn.weight, mt.weight)


@pytest.mark.parametrize("training", [True, False])
def test_old_spectral_norm_matches_torch(training):
    mt, mn = _pair_linear(1, 5, 4)
    torch.nn.utils.spectral_norm(mt, n_power_iterations=2)
    nn.utils.spectral_norm(mn, n_power_iterations=2)
    assert set(mn.state_dict()) == set(mt.state_dict()) == {"weight_orig", "weight_u", "weight_v", "bias"}
    mn.load_state_dict({k: tn.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    mt.train(training)
    mn.train(training)
    x = np.random.default_rng(1).standard_normal((3, 5))
    for _ in range(2):
        yt, yn = mt(_t(x)), mn(_n(x))
        _close(yn, yt)
        _close(mn.weight_u, mt.weight_u)
        _close(mn.weight_v, mt.weight_v)
    yn.pow(2).sum().backward()
    yt.pow(2).sum().backward()
    _grads_match(mt, mn)
    torch.nn.utils.remove_spectral_norm(mt)
    nn.utils.remove_spectral_norm(mn)
    assert set(mn.state_dict()) == {"weight", "bias"}
    _close(mn.weight, mt.weight)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrizations_weight_norm_matches_torch(dim):
    mt, mn = _pair_conv(2)
    torch.nn.utils.parametrizations.weight_norm(mt, dim=dim)
    nn.utils.parametrizations.weight_norm(mn, dim=dim)
    assert set(mn.state_dict()) == set(mt.state_dict())
    _close(mn.parametrizations.weight.original0, mt.parametrizations.weight.original0)
    _close(mn.weight, mt.weight)
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 3))
    mn(_n(x)).pow(2).sum().backward()
    mt(_t(x)).pow(2).sum().backward()
    _grads_match(mt, mn)


@pytest.mark.parametrize("training", [True, False])
def test_parametrizations_spectral_norm_matches_torch(training):
    # eval: a conv weight (4-D, reshaped to a matrix); training: a module that reads its weight
    # once per forward (each read of a parametrized weight in training mode is one power
    # iteration, as in PyTorch, and tinynet's Conv2d reads it more than once; see the report)
    mt, mn = _pair_conv(3) if not training else _pair_linear(3, 3, 4)
    torch.nn.utils.parametrizations.spectral_norm(mt)
    nn.utils.parametrizations.spectral_norm(mn)
    assert set(mn.state_dict()) == set(mt.state_dict())
    mn.load_state_dict({k: tn.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    mt.train(training)
    mn.train(training)
    x = np.random.default_rng(3).standard_normal((2, 2, 3, 3) if not training else (2, 3))
    for _ in range(2):
        yt, yn = mt(_t(x)), mn(_n(x))
        _close(yn, yt)
    _close(mn.parametrizations.weight[0]._u, mt.parametrizations.weight[0]._u)
    _close(mn.parametrizations.weight[0]._v, mt.parametrizations.weight[0]._v)
    yn.pow(2).sum().backward()
    yt.pow(2).sum().backward()
    _grads_match(mt, mn)


def test_parametrizations_spectral_norm_registration_iterations_match_torch():
    # the 15 power iterations at registration, from the same start vectors, give torch's vectors
    from tinynet.nn.utils.parametrizations import _SpectralNorm
    from torch.nn.utils.parametrizations import _SpectralNorm as TSN
    rng = np.random.default_rng(4)
    w = rng.standard_normal((4, 3))
    sn, st = _SpectralNorm(_n(w)), TSN(_t(w))
    u0, v0 = rng.standard_normal(4), rng.standard_normal(3)
    sn._u.array[...] = u0
    sn._v.array[...] = v0
    with torch.no_grad():
        st._u.copy_(_t(u0))
        st._v.copy_(_t(v0))
    sn._power_method(_n(w), 15)
    st._power_method(_t(w), 15)
    _close(sn._u, st._u)
    _close(sn._v, st._v)
    _close(sn(_n(w)), st(_t(w)))
    _close(_SpectralNorm(_n(w[0]))(_n(w[0])), TSN(_t(w[0]))(_t(w[0])))


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
def test_parametrizations_orthogonal_matches_torch(shape, omap):
    i, o = shape[1], shape[0]
    mt, mn = _pair_linear(4, i, o)
    torch.nn.utils.parametrizations.orthogonal(mt, orthogonal_map=omap)
    nn.utils.parametrizations.orthogonal(mn, orthogonal_map=omap)
    assert set(mn.state_dict()) == set(mt.state_dict())
    _close(mn.weight, mt.weight, 1e-9)
    # a rectangular weight's base is completed with random columns: take torch's, so the
    # gradients (which depend on them) can be compared
    mn.load_state_dict({k: tn.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    w = mn.weight.detach().numpy()
    small = min(shape)
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)
    _close(mn.weight, mt.weight, 1e-9)
    # learn the unconstrained original: a step keeps the weight orthogonal, as torch's
    orig_t = mt.parametrizations.weight.original
    orig_n = mn.parametrizations.weight.original
    x = np.random.default_rng(5).standard_normal((3, i))
    (mt(_t(x)) ** 3).sum().backward()
    (mn(_n(x)) ** 3).sum().backward()
    _close(orig_n.grad, orig_t.grad, 1e-8)
    with torch.no_grad():
        orig_t -= 0.1 * orig_t.grad
    orig_n.data.sub_(0.1 * orig_n.grad)
    _close(mn.weight, mt.weight, 1e-8)
    w = mn.weight.detach().numpy()
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)


def test_register_parametrization_and_remove_match_torch():
    class Sym(torch.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

    class SymN(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

    mt, mn = _pair_linear(6, 3, 3)
    torch.nn.utils.parametrize.register_parametrization(mt, "weight", Sym())
    nn.utils.parametrize.register_parametrization(mn, "weight", SymN())
    assert type(mn).__name__ == "Parametrized_Affine" and type(mt).__name__ == "ParametrizedLinear"
    assert set(mn.state_dict()) == set(mt.state_dict()) == {"bias", "parametrizations.weight.original"}
    _close(mn.weight, mt.weight)
    x = np.random.default_rng(6).standard_normal((2, 3))
    (mn(_n(x)) ** 2).sum().backward()
    (mt(_t(x)) ** 2).sum().backward()
    _grads_match(mt, mn)
    assert nn.utils.parametrize.is_parametrized(mn) and nn.utils.parametrize.is_parametrized(mn, "weight")
    assert not nn.utils.parametrize.is_parametrized(mn, "bias")
    torch.nn.utils.parametrize.remove_parametrizations(mt, "weight", leave_parametrized=True)
    nn.utils.parametrize.remove_parametrizations(mn, "weight", leave_parametrized=True)
    assert type(mn) is _Affine and set(mn.state_dict()) == {"weight", "bias"}
    _close(mn.weight, mt.weight)


# --- 3. nn.init ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 4, 3, 1, 3), 1), ((4, 4, 3), 4)])
def test_dirac_matches_torch(shape, groups):
    a, b = tn.empty(*shape, dtype=tn.float64), torch.empty(*shape, dtype=torch.float64)
    assert nn.init.dirac_(a, groups) is a
    torch.nn.init.dirac_(b, groups)
    _close(a, b)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch(shape):
    a, b = tn.empty(*shape), torch.empty(*shape)
    nn.init.eye_(a)
    torch.nn.init.eye_(b)
    _close(a, b)


@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3), (4, 2, 3)])
def test_orthogonal_init_is_orthogonal_like_torch(shape):
    a, b = tn.empty(*shape, dtype=tn.float64), torch.empty(*shape, dtype=torch.float64)
    nn.init.orthogonal_(a, gain=2.0, generator=tn.Generator().manual_seed(0))
    torch.nn.init.orthogonal_(b, gain=2.0)
    for w in (a.numpy(), b.numpy()):
        m = w.reshape(shape[0], -1)
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4.0 * np.eye(min(m.shape)), atol=1e-10)
    c = tn.empty(*shape, dtype=tn.float64)
    nn.init.orthogonal_(c, gain=2.0, generator=tn.Generator().manual_seed(0))
    _close(a, c, 0)


def test_sparse_init_zero_count_matches_torch():
    a, b = tn.empty(10, 6), torch.empty(10, 6)
    nn.init.sparse_(a, 0.35, std=0.5, generator=tn.Generator().manual_seed(1))
    torch.nn.init.sparse_(b, 0.35, std=0.5)
    assert ((a.numpy() == 0).sum(0) == (b.numpy() == 0).sum(0)).all()  # ceil(0.35 * 10) = 4 per column
    assert ((a.numpy() == 0).sum(0) == 4).all()


@pytest.mark.parametrize("name", ["uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
                                  "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"])
def test_deprecated_init_aliases_warn_like_torch(name):
    args = {"constant": (0.5,), "sparse": (0.1,)}.get(name, ())
    with pytest.warns(FutureWarning) as wt:
        getattr(torch.nn.init, name)(torch.empty(3, 4), *args)
    with pytest.warns(FutureWarning) as wn:
        out = getattr(nn.init, name)(tn.empty(3, 4), *args)
    assert str(wn[0].message) == str(wt[0].message)
    assert isinstance(out, tn.Tensor)


# --- 4. more nn.utils ---------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_get_total_norm_and_clip_grads_with_norm_match_torch(norm_type):
    rng = np.random.default_rng(7)
    gs = [rng.standard_normal(s) for s in ((3, 2), (4,), ())]
    tt = torch.nn.utils.get_total_norm([_t(g) for g in gs], norm_type)
    tnn = nn.utils.get_total_norm([_n(g) for g in gs], norm_type)
    _close(tnn, tt)
    pt = [_t(np.zeros_like(g), True) for g in gs]
    pn = [nn.Parameter(_n(np.zeros_like(g))) for g in gs]
    for p, g in zip(pt, gs):
        p.grad = _t(g)
    for p, g in zip(pn, gs):
        p.grad = _n(g)
    torch.nn.utils.clip_grads_with_norm_(pt, 0.7, tt)
    nn.utils.clip_grads_with_norm_(pn, 0.7, tnn)
    for a, b in zip(pn, pt):
        _close(a.grad, b.grad)
    with pytest.warns(FutureWarning):
        r = nn.utils.clip_grad_norm(pn, 0.5)
    with pytest.warns(FutureWarning):
        s = torch.nn.utils.clip_grad_norm(pt, 0.5)
    _close(r, s)


@pytest.mark.parametrize("kind", ["conv", "conv_nobias", "convT", "linear"])
def test_fusion_matches_torch(kind):
    torch.manual_seed(8)
    if kind == "linear":
        lt, bt = torch.nn.Linear(3, 4).double(), torch.nn.BatchNorm1d(4).double()
        ln, bn = nn.Linear(3, 4).double(), nn.BatchNorm1d(4).double()
        x = np.random.default_rng(8).standard_normal((5, 3))
    elif kind == "convT":
        lt, bt = torch.nn.ConvTranspose2d(2, 3, 2).double(), torch.nn.BatchNorm2d(3).double()
        ln, bn = nn.ConvTranspose2d(2, 3, 2).double(), nn.BatchNorm2d(3).double()
        x = np.random.default_rng(8).standard_normal((2, 2, 3, 3))
    else:
        bias = kind == "conv"
        lt, bt = torch.nn.Conv2d(2, 3, 2, bias=bias).double(), torch.nn.BatchNorm2d(3).double()
        ln, bn = nn.Conv2d(2, 3, 2, bias=bias).double(), nn.BatchNorm2d(3).double()
        x = np.random.default_rng(8).standard_normal((2, 2, 3, 3))
    with torch.no_grad():
        for t in (bt.weight, bt.bias, bt.running_mean):
            t.copy_(torch.randn_like(t))
        bt.running_var.copy_(torch.rand_like(bt.running_var) + 0.5)
    _copy_weights(lt, ln)
    _copy_weights(bt, bn)
    for m in (lt, bt, ln, bn):
        m.eval()
    if kind == "linear":
        ft, fn = torch.nn.utils.fuse_linear_bn_eval(lt, bt), nn.utils.fuse_linear_bn_eval(ln, bn)
    else:
        tr = kind == "convT"
        ft, fn = torch.nn.utils.fuse_conv_bn_eval(lt, bt, tr), nn.utils.fuse_conv_bn_eval(ln, bn, tr)
    _close(fn.weight, ft.weight)
    _close(fn.bias, ft.bias)
    _close(fn(_n(x)), bt(lt(_t(x))), 1e-9)
    assert isinstance(fn.weight, nn.Parameter) and fn is not ln


def test_functional_call_matches_torch_and_restores():
    torch.manual_seed(9)
    mt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    mn = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    _copy_weights(mt, mn)
    rng = np.random.default_rng(9)
    w0 = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 3))
    wt, wn = _t(w0, True), _n(w0, True)
    yt = torch.func.functional_call(mt, {"0.weight": wt * 2}, (_t(x),))
    yn = tn.func.functional_call(mn, {"0.weight": wn * 2}, (_n(x),))
    _close(yn, yt)
    yt.pow(2).sum().backward()
    yn.pow(2).sum().backward()
    _close(wn.grad, wt.grad)
    assert mn[0].weight.grad is None  # the module's own parameter was not used
    _close(mn[0].weight, mt[0].weight)  # and is back
    yt2 = torch.func.functional_call(mt, ({"2.bias": _t([1.0, 2.0])}, {"0.bias": _t(np.zeros(4))}), _t(x))
    yn2 = tn.func.functional_call(mn, ({"2.bias": _n([1.0, 2.0])}, {"0.bias": _n(np.zeros(4))}), _n(x))
    _close(yn2, yt2)
    with pytest.warns(FutureWarning) as wt:
        yt3 = torch.nn.utils.stateless.functional_call(mt, {"2.bias": _t([1.0, 2.0])}, _t(x))
    with pytest.warns(FutureWarning) as wn:
        yn3 = nn.utils.stateless.functional_call(mn, {"2.bias": _n([1.0, 2.0])}, _n(x))
    assert str(wn[0].message) == str(wt[0].message)
    _close(yn3, yt3)


# --- 5. Module API ------------------------------------------------------------------------------
class _WithExtra(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.count = 0

    def forward(self, x):
        return self.lin(x)

    def get_extra_state(self):
        return {"count": self.count}

    def set_extra_state(self, state):
        self.count = state["count"]


class _WithExtraT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)
        self.count = 0

    def get_extra_state(self):
        return {"count": self.count}

    def set_extra_state(self, state):
        self.count = state["count"]


def test_state_dict_keys_prefix_extra_state_and_hooks_match_torch():
    mt = torch.nn.Sequential(_WithExtraT(), torch.nn.BatchNorm1d(2))
    mn = nn.Sequential(_WithExtra(), nn.BatchNorm1d(2))
    assert list(mn.state_dict()) == list(mt.state_dict())
    assert list(mn.state_dict(prefix="m.")) == list(mt.state_dict(prefix="m."))
    dn, dt = {"x": 1}, {"x": 1}
    with pytest.warns(FutureWarning) as wn:
        assert mn.state_dict(dn, "p.") is dn
    with pytest.warns(FutureWarning) as wt:
        assert mt.state_dict(dt, "p.") is dt
    assert str(wn[0].message) == str(wt[0].message)
    assert list(dn) == list(dt)
    assert mn.state_dict(keep_vars=True)["0.lin.weight"] is mn[0].lin.weight
    mt[0].count = 5
    sd = {k: (tn.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v) for k, v in mt.state_dict().items()}
    assert sd["0._extra_state"] == {"count": 5}
    mn.load_state_dict(sd)
    assert mn[0].count == 5
    _close(mn[0].lin.weight, mt[0].lin.weight)
    calls_t, calls_n = [], []
    part = {mn: {k: v for k, v in sd.items() if "lin" not in k},
            mt: {k: v for k, v in mt.state_dict().items() if "lin" not in k}}
    for m, calls in ((mt, calls_t), (mn, calls_n)):
        m[1].register_state_dict_pre_hook(lambda mod, prefix, keep_vars, c=calls: c.append(("pre", prefix)))
        m[1].register_state_dict_post_hook(lambda mod, sd, prefix, meta, c=calls: c.append(("post", prefix)))
        h = m.register_load_state_dict_post_hook(lambda mod, keys, c=calls: (c.append(("lpost", len(keys.missing_keys))),
                                                                            keys.missing_keys.clear())[0])
        m.state_dict()
        m.load_state_dict(part[m])
        h.remove()
    assert calls_n == calls_t


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_assign_and_strict_match_torch(strict):
    torch.manual_seed(10)
    mt, mn = torch.nn.Linear(3, 2).double(), nn.Linear(3, 2).double()
    mn.weight.requires_grad_(False)
    mt.weight.requires_grad_(False)
    w = np.random.default_rng(10).standard_normal((2, 3))
    st, sn = {"weight": _t(w)}, {"weight": _n(w)}
    if strict:
        with pytest.raises(RuntimeError, match="bias"):
            mt.load_state_dict(st, strict=True, assign=True)
        with pytest.raises(RuntimeError, match="bias"):
            mn.load_state_dict(sn, strict=True, assign=True)
        return
    rt = mt.load_state_dict(st, strict=False, assign=True)
    rn = mn.load_state_dict(sn, strict=False, assign=True)
    assert rn.missing_keys == rt.missing_keys == ["bias"] and rn.unexpected_keys == rt.unexpected_keys == []
    assert isinstance(mn.weight, nn.Parameter) and mn.weight.requires_grad == mt.weight.requires_grad is False
    sn["weight"].array[0, 0] = 42.0  # assign: the module now holds the given tensor's memory
    st["weight"][0, 0] = 42.0
    _close(mn.weight, mt.weight)


def test_get_parameter_buffer_set_submodule_match_torch():
    mt = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    mn = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert mn.get_parameter("0.weight") is mn[0].weight
    assert mn.get_buffer("1.running_mean") is mn[1].running_mean
    for m in (mt, mn):
        with pytest.raises(AttributeError, match="is not an nn.Parameter"):
            m.get_parameter("1.running_mean")
        with pytest.raises(AttributeError, match="is not a buffer"):
            m.get_buffer("0.weight")
        with pytest.raises(AttributeError, match="has no attribute"):
            m.get_parameter("0.nothing")
        with pytest.raises(ValueError, match="without a target name"):
            m.set_submodule("", m[0])
    new_t, new_n = torch.nn.Tanh(), nn.Tanh()
    mt.set_submodule("1", new_t)
    mn.set_submodule("1", new_n)
    assert mn[1] is new_n and mt[1] is new_t
    with pytest.raises(AttributeError):
        mn.set_submodule("0.weight", nn.Tanh())
    with pytest.raises(AttributeError):
        mt.set_submodule("0.weight", torch.nn.Tanh())


def test_parametrized_weight_norm_loads_an_old_weight_norm_checkpoint_like_torch():
    mt_old, _ = _pair_conv(11)
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(mt_old)
    old = mt_old.state_dict()
    mt, mn = _pair_conv(12)
    torch.nn.utils.parametrizations.weight_norm(mt)
    nn.utils.parametrizations.weight_norm(mn)
    rt = mt.load_state_dict(old)
    rn = mn.load_state_dict({k: tn.tensor(v.numpy()) for k, v in old.items()})
    assert list(rn.missing_keys) == list(rt.missing_keys) == [] and list(rn.unexpected_keys) == []
    _close(mn.weight, mt.weight)
    _close(mn.weight, mt_old.weight)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2)])
@pytest.mark.parametrize("omap", ["matrix_exp", "cayley"])
def test_parametrizations_orthogonal_without_trivialization_matches_torch(shape, omap):
    mt, mn = _pair_linear(13, shape[1], shape[0])
    torch.nn.utils.parametrizations.orthogonal(mt, orthogonal_map=omap, use_trivialization=False)
    nn.utils.parametrizations.orthogonal(mn, orthogonal_map=omap, use_trivialization=False)
    assert set(mn.state_dict()) == set(mt.state_dict())
    _close(mn.parametrizations.weight.original, mt.parametrizations.weight.original)
    _close(mn.weight, mt.weight, 1e-9)
    x = np.random.default_rng(13).standard_normal((2, shape[1]))
    (mt(_t(x)) ** 3).sum().backward()
    (mn(_n(x)) ** 3).sum().backward()
    _grads_match(mt, mn, 1e-8)
