"""nn.utils (packed sequences, reparametrisations, fusion, functional_call, skip_init), the extra
nn.init functions and the Module API additions: behaviour on every device and every error
path (the values are checked against PyTorch in tests/test_torch_parity_nn_utils.py)."""
from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
from tinynet.backend.errors import DeviceError, ShapeError

R = nn.utils.rnn
P = nn.utils.parametrize


# --- packed sequences -----------------------------------------------------------------------------
def test_pack_and_pad_on_each_device(device):
    x = tn.tensor(np.arange(24, dtype=np.float64).reshape(4, 3, 2), device=device, requires_grad=True)
    p = R.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    assert p.data.device.type == device and p.batch_sizes.device.type == "cpu"
    assert p.batch_sizes.tolist() == [3, 2, 1, 1]
    assert p.sorted_indices.tolist() == [1, 0, 2] and p.unsorted_indices.tolist() == [1, 0, 2]
    assert p.sorted_indices.device.type == device and p.is_cuda == (device == "cuda")
    # step 0 of sequences 1, 0, 2; step 1 of 1, 0; steps 2, 3 of 1
    expect = np.arange(24.0).reshape(4, 3, 2)[[0, 0, 0, 1, 1, 2, 3], [1, 0, 2, 1, 0, 1, 1]]
    np.testing.assert_array_equal(p.data.detach().numpy(), expect)
    y, lengths = R.pad_packed_sequence(p, batch_first=True, padding_value=-1.0)
    assert lengths.tolist() == [2, 4, 1] and y.shape == (3, 4, 2) and y.device.type == device
    want = np.arange(24.0).reshape(4, 3, 2).transpose(1, 0, 2).copy()
    want[0, 2:] = -1
    want[2, 1:] = -1
    np.testing.assert_array_equal(y.detach().numpy(), want)
    y.sum().backward()
    g = np.ones((4, 3, 2))
    g[2:, 0] = 0
    g[1:, 2] = 0
    np.testing.assert_array_equal(x.grad.detach().numpy(), g)
    assert [s.tolist() for s in R.unpack_sequence(p)] == [s.tolist() for s in R.unpad_sequence(y, lengths, True)]


def test_recurrent_layer_on_packed_sequence_each_device(device):
    tn.manual_seed(0)
    lstm = nn.LSTM(2, 3, bidirectional=True).to(device)
    seqs = [tn.randn(k, 2, device=device) for k in (3, 1, 2)]
    out, (h, c) = lstm(R.pack_sequence(seqs, enforce_sorted=False))
    assert isinstance(out, R.PackedSequence) and out.data.shape == (6, 6) and h.shape == (2, 3, 3)
    # each sequence alone gives the same final states
    for i, s in enumerate(seqs):
        _, (hi, ci) = lstm(s.unsqueeze(1))
        np.testing.assert_allclose(h[:, i].detach().numpy(), hi[:, 0].detach().numpy(), atol=1e-6)
        np.testing.assert_allclose(c[:, i].detach().numpy(), ci[:, 0].detach().numpy(), atol=1e-6)


def test_packed_sequence_to_and_casts():
    p = R.pack_sequence([tn.ones(2, 1), tn.ones(1, 1)])
    assert p.to(tn.float32) is p
    q = p.double()
    assert q.data.dtype == tn.float64 and q.batch_sizes is p.batch_sizes and isinstance(q, R.PackedSequence)
    assert not p.is_pinned()
    data, bs, si, ui = p  # a named tuple
    assert si is None and ui is None and bs.tolist() == [2, 1]
    with pytest.raises(TypeError, match="batch_sizes is required"):
        R.PackedSequence(tn.ones(3, 1))
    if "cuda" in tn.backend.available_devices():
        s = R.pack_sequence([tn.ones(1, 2), tn.ones(3, 2)], enforce_sorted=False)
        g = s.to("cuda")
        assert g.is_cuda and g.sorted_indices.device.type == "cuda" and g.batch_sizes.device.type == "cpu"
        back = g.cpu()
        assert back.data.device.type == "cpu" and back.unsorted_indices.device.type == "cpu"
        with pytest.raises(ValueError, match="always be on the cpu"):
            R.PackedSequence(g.data, tn.tensor([2, 1, 1], device="cuda"))


def test_packing_errors():
    x = tn.randn(3, 2, 1)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        R.pack_padded_sequence(x, [1, 3])
    with pytest.raises(ValueError, match="greater than 0"):
        R.pack_padded_sequence(x, [3, 0])
    with pytest.raises(ShapeError, match="expected 2 lengths"):
        R.pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ShapeError, match="exceeds the padded length"):
        R.pack_padded_sequence(x, [4, 1])
    with pytest.raises(TypeError, match="input must be a Tensor"):
        R.pack_padded_sequence([1.0], [1])
    p = R.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length to be at least"):
        R.pad_packed_sequence(p, total_length=2)
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        R.pad_packed_sequence(x)
    with pytest.raises(ValueError, match="padding_side"):
        R.pad_sequence([tn.ones(2)], padding_side="middle")
    with pytest.raises(ShapeError, match="same trailing shape"):
        R.pad_sequence([tn.ones(2, 3), tn.ones(2, 4)])
    with pytest.raises(ShapeError, match="input_size=2"):
        nn.GRU(2, 3)(R.pack_sequence([tn.ones(2, 5)]))
    if "cuda" in tn.backend.available_devices():
        with pytest.raises(ValueError, match="1D CPU int64"):
            R.pack_padded_sequence(x, tn.tensor([3, 2], device="cuda"))


# --- reparametrisations ---------------------------------------------------------------------------
class _Affine(nn.Module):
    def __init__(self, i=3, o=3):
        super().__init__()
        self.weight = nn.Parameter(tn.randn(o, i))
        self.bias = nn.Parameter(tn.zeros(o))

    def forward(self, x):
        return nn.functional.linear(x, self.weight, self.bias)


class _Double(nn.Module):
    def forward(self, x):
        return x * 2

    def right_inverse(self, y):
        return y / 2


class _Counting(nn.Module):
    calls = 0

    def forward(self, x):
        _Counting.calls += 1
        return x + 1


def test_parametrize_cached_setter_chain_and_remove(device):
    m = _Affine().to(device)
    w0 = m.weight.detach().numpy().copy()
    orig = m.weight
    P.register_parametrization(m, "weight", _Double())
    assert m.parametrizations.weight.original is orig  # the same Parameter object, right-inverted in place
    np.testing.assert_allclose(m.weight.detach().numpy(), w0, rtol=1e-6)
    np.testing.assert_allclose(orig.detach().numpy(), w0 / 2, rtol=1e-6)
    m.weight = tn.ones(3, 3, device=device)  # through right_inverse
    np.testing.assert_allclose(orig.detach().numpy(), 0.5)
    P.register_parametrization(m, "weight", _Counting())
    _Counting.calls = 0
    with P.cached():
        a, b = m.weight, m.weight
    assert a is b and _Counting.calls == 1
    m.weight
    assert _Counting.calls == 2
    np.testing.assert_allclose(m.weight.detach().numpy(), 2.0)
    assert P.type_before_parametrizations(m) is _Affine
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is _Affine and not P.is_parametrized(m) and m.weight is orig
    np.testing.assert_allclose(m.weight.detach().numpy(), 0.5)
    assert "parametrizations" not in dict(m.named_children())


def test_parametrize_errors():
    m = _Affine()

    class Bad(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ShapeError, match="unsafe=True"):
        P.register_parametrization(m, "weight", Bad())
    assert not P.is_parametrized(m)
    with pytest.raises(ValueError, match="no parameter or buffer"):
        P.register_parametrization(m, "nothing", _Double())
    with pytest.raises(TypeError, match="nn.Module"):
        P.register_parametrization(m, "weight", lambda x: x)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(m, "weight")
    nn.utils.parametrizations.weight_norm(m)
    with pytest.raises(ValueError, match="leave_parametrized=False"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    with pytest.raises(ShapeError, match="right_inverse gave shape"):
        m.parametrizations.weight.right_inverse(tn.ones(2, 2))  # v would be (2, 2) for a (3, 3) original


def test_old_weight_and_spectral_norm_errors():
    m = _Affine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nn.utils.weight_norm(m)
        with pytest.raises(RuntimeError, match="two weight_norm hooks"):
            nn.utils.weight_norm(m)
        with pytest.raises(ValueError, match="has no parameter 'nothing'"):
            nn.utils.weight_norm(_Affine(), "nothing")
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        nn.utils.remove_weight_norm(m, "bias")
    s = _Affine()
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.spectral_norm(s, n_power_iterations=0)
    nn.utils.spectral_norm(s)
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(s)
    with pytest.raises(ValueError, match="spectral_norm of 'bias' not found"):
        nn.utils.remove_spectral_norm(s, "bias")
    with pytest.raises(TypeError, match="expected a Module"):
        nn.utils.spectral_norm(tn.ones(2, 2))


def test_spectral_norm_bounds_the_largest_singular_value(device):
    tn.manual_seed(1)
    m = nn.utils.parametrizations.spectral_norm(_Affine(5, 4)).to(device)
    for _ in range(20):
        m(tn.ones(1, 5, device=device))  # training accesses refine u, v
    sv = np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)
    assert abs(sv[0] - 1.0) < 1e-4
    m.eval()
    u = m.parametrizations.weight[0]._u.detach().numpy().copy()
    m.weight
    np.testing.assert_array_equal(m.parametrizations.weight[0]._u.detach().numpy(), u)  # eval: no iteration


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        nn.utils.parametrizations.orthogonal(_Affine(), orthogonal_map="qr")
    m = nn.Module()
    m.weight = nn.Parameter(tn.ones(3))
    with pytest.raises(ShapeError, match="matrix or batch of matrices"):
        nn.utils.parametrizations.orthogonal(m)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        nn.utils.parametrizations.orthogonal(_Affine(), orthogonal_map="householder", use_trivialization=False)
    plain = nn.utils.parametrizations.orthogonal(_Affine(), orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="not possible to assign"):
        plain.weight = tn.eye(3)
    o = nn.utils.parametrizations.orthogonal(_Affine(4, 2))
    with pytest.raises(ShapeError, match="of shape"):
        o.weight = tn.ones(3, 3)


# --- nn.init ----------------------------------------------------------------------------------------
def test_init_on_each_device_and_generator(device):
    for fn, args in ((nn.init.orthogonal_, ()), (nn.init.sparse_, (0.5,)), (nn.init.uniform_, ()),
                     (nn.init.normal_, ()), (nn.init.xavier_uniform_, ()), (nn.init.xavier_normal_, ()),
                     (nn.init.kaiming_uniform_, ()), (nn.init.kaiming_normal_, ()), (nn.init.trunc_normal_, ())):
        a = tn.empty(4, 3, device=device)
        b = tn.empty(4, 3, device=device)
        fn(a, *args, generator=tn.Generator().manual_seed(3))
        fn(b, *args, generator=tn.Generator().manual_seed(3))
        assert a.device.type == device
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    e = nn.init.eye_(tn.empty(2, 3, device=device))
    np.testing.assert_array_equal(e.detach().numpy(), np.eye(2, 3))
    d = nn.init.dirac_(tn.empty(2, 2, 3, device=device))
    assert d.detach().numpy()[0, 0, 1] == 1 and d.detach().numpy().sum() == 2


def test_init_errors():
    with pytest.raises(ShapeError, match="2 or more dimensions"):
        nn.init.orthogonal_(tn.empty(3))
    with pytest.raises(ShapeError, match="only 2-D"):
        nn.init.eye_(tn.empty(2, 2, 2))
    with pytest.raises(ShapeError, match="3, 4, or 5"):
        nn.init.dirac_(tn.empty(2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.init.dirac_(tn.empty(3, 2, 3), groups=2)
    with pytest.raises(ShapeError, match="2 dimensions"):
        nn.init.sparse_(tn.empty(2, 2, 2), 0.1)
    with pytest.raises(ValueError, match="sparsity"):
        nn.init.sparse_(tn.empty(2, 2), 1.5)
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.init.eye_(np.zeros((2, 2)))


# --- fusion, clipping, functional_call, skip_init -----------------------------------------------------
def test_fusion_errors():
    conv, bn = nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)
    with pytest.raises(RuntimeError, match="Fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    lin, bn1 = nn.Linear(2, 3).eval(), nn.BatchNorm1d(4).eval()
    with pytest.raises(ValueError, match="must equal bn.num_features"):
        nn.utils.fuse_linear_bn_eval(lin, bn1)
    nostats = nn.BatchNorm2d(2, track_running_stats=False).eval()
    with pytest.raises(RuntimeError, match="no running statistics"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), nostats)


def test_clip_helpers_errors():
    a, b = tn.ones(2), tn.ones(2)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.get_total_norm([tn.tensor([np.nan])], error_if_nonfinite=True)
    assert nn.utils.get_total_norm([]).item() == 0.0
    with pytest.raises(ShapeError, match="one number"):
        nn.utils.clip_grads_with_norm_([nn.Parameter(a)], 1.0, b)
    with pytest.raises(ValueError, match="foreach=True"):
        nn.utils.get_total_norm([a], foreach=True)
    if "cuda" in tn.backend.available_devices():
        with pytest.raises(DeviceError, match="one device"):
            nn.utils.get_total_norm([a, b.to("cuda")])


def test_functional_call_restores_on_error_ties_and_strict(device):
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).to(device)
    m[1].weight = m[0].weight  # tied
    w = m[0].weight
    boom = tn.ones(2, 2, device=device)

    class Fail(Exception):
        pass

    def hook(mod, args):
        assert mod.weight is boom
        raise Fail

    h = m[1].register_forward_pre_hook(hook)
    with pytest.raises(Fail):
        tn.func.functional_call(m, {"0.weight": boom}, tn.ones(1, 2, device=device))
    h.remove()
    assert m[0].weight is w and m[1].weight is w and m[0]._parameters["weight"] is w
    with pytest.raises(ValueError, match="which are tied"):
        tn.func.functional_call(m, {"0.weight": boom, "1.weight": boom * 2}, tn.ones(1, 2, device=device))
    out = tn.func.functional_call(m, {"0.weight": boom, "1.weight": boom * 2}, tn.ones(1, 2, device=device),
                                  tie_weights=False)
    assert out.shape == (1, 2)
    with pytest.raises(RuntimeError, match="Missing key"):
        tn.func.functional_call(m, {"0.weight": boom}, tn.ones(1, 2, device=device), strict=True)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        tn.func.functional_call(m, ({"0.bias": boom[0]}, {"0.bias": boom[0]}), tn.ones(1, 2, device=device))
    with pytest.raises(TypeError, match="must be a Tensor"):
        tn.func.functional_call(m, {"0.bias": [1.0, 2.0]}, tn.ones(1, 2, device=device))


def test_skip_init(device):
    m = nn.utils.skip_init(nn.Linear, 3, 2, device=device)
    assert isinstance(m, nn.Linear) and m.weight.shape == (2, 3) and m.weight.device.type == device

    class NoDevice(nn.Module):
        def __init__(self):
            super().__init__()

    with pytest.raises(RuntimeError, match="support a 'device' arg"):
        nn.utils.skip_init(NoDevice)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)


# --- Module API -----------------------------------------------------------------------------------------
def test_to_empty_type_and_extra_state_default(device):
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    m.to_empty(device=device)
    assert m[0].weight is w and w.device.type == device and w.shape == (2, 2)
    m.type(tn.float64)
    assert w.dtype == tn.float64 and m[1].num_batches_tracked.dtype == tn.float64  # every tensor, as PyTorch
    with pytest.raises(TypeError, match="only floating tensors"):
        m.type(tn.int64)
    assert w.dtype == tn.float64
    with pytest.raises(RuntimeError, match="should never be called"):
        m.get_extra_state()


def test_state_dict_hook_errors_and_post_hook_clearing_keys():
    m = nn.Linear(2, 2)
    h = m.register_state_dict_post_hook(lambda *a: {})
    with pytest.raises(RuntimeError, match="must return None"):
        m.state_dict()
    h.remove()
    assert list(m.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match="callable"):
        m.register_load_state_dict_pre_hook(3)
    # a pre-hook renaming an old key
    m.register_load_state_dict_pre_hook(
        lambda mod, sd, prefix, *rest: sd.__setitem__(prefix + "weight", sd.pop(prefix + "w")) if prefix + "w" in sd else None)
    m.load_state_dict({"w": tn.ones(2, 2), "bias": tn.zeros(2)})
    np.testing.assert_array_equal(m.weight.detach().numpy(), 1.0)
    # strict errors: nothing changed without post hooks; with a post hook clearing them, no error
    with pytest.raises(RuntimeError, match="nothing was changed"):
        m.load_state_dict({"bias": tn.full((2,), 5.0)})
    np.testing.assert_array_equal(m.bias.detach().numpy(), 0.0)
    m.register_load_state_dict_post_hook(lambda mod, keys: keys.missing_keys.clear())
    res = m.load_state_dict({"bias": tn.full((2,), 5.0)})
    assert res.missing_keys == [] and m.bias.detach().numpy().tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError, match="were loaded"):
        m.load_state_dict({"bias": tn.zeros(2), "extra": tn.zeros(1)})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_share_memory_is_seen_by_a_forked_process():
    m = nn.Linear(2, 1)
    w = m.weight
    assert m.share_memory() is m and m.weight is w
    pid = os.fork()
    if pid == 0:  # the child writes into the shared parameter and exits at once
        try:
            with tn.no_grad():
                m.weight.array[...] = 7.0
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    np.testing.assert_array_equal(m.weight.detach().numpy(), 7.0)
    if "cuda" in tn.backend.available_devices():
        with pytest.raises(DeviceError, match="only cpu memory"):
            nn.Linear(2, 1).to("cuda").share_memory()


def test_parametrized_module_deepcopies_and_refuses_pickle():
    import copy
    import pickle

    m = nn.utils.parametrizations.weight_norm(_Affine())
    c = copy.deepcopy(m)
    assert type(c) is type(m) and c.parametrizations.weight.original1 is not m.parametrizations.weight.original1
    np.testing.assert_array_equal(c.weight.detach().numpy(), m.weight.detach().numpy())
    c.parametrizations.weight.original0.data.mul_(2)  # the copy's properties read the copy
    assert not np.allclose(c.weight.detach().numpy(), m.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_total_norm_of_large_gradients_is_float64_accurate(dtype):
    """The 2-norm adds BLAS dot products of 2^14-element blocks in float64: a gradient of
    several blocks (and a ragged last one) matches an exact float64 sum to float32 accuracy
    (float64 input: to rounding)."""
    from tinynet.nn.utils.clip_grad import _DOT_BLOCK, _norm_of

    rng = np.random.default_rng(0)
    big = (rng.standard_normal(3 * _DOT_BLOCK + 123) * 3).astype(dtype)
    small = rng.standard_normal((7, 5)).astype(dtype)
    exact = math.sqrt(math.fsum(float(v) ** 2 for v in np.concatenate([big, small.ravel()]).astype(np.float64)))
    inner = float(_norm_of([big, small], 2.0, np))  # the float64 accumulation itself
    assert abs(inner - exact) <= {"float32": 1e-7, "float64": 1e-13, "float16": 1e-13}[dtype] * exact
    total = tn.nn.utils.get_total_norm([tn.tensor(big), tn.tensor(small)])  # returned in the gradients' dtype
    assert total.dtype == getattr(tn, dtype)
    assert float(total) == pytest.approx(exact, rel={"float32": 1e-7, "float64": 1e-13, "float16": 1e-3}[dtype])
    p = tn.nn.Parameter(tn.tensor(big.astype(np.float32)))
    p.grad = tn.tensor(big.astype(np.float32))
    returned = tn.nn.utils.clip_grad_norm_([p], max_norm=1.0)
    assert abs(float(returned) - math.sqrt(math.fsum(float(v) ** 2 for v in big.astype(np.float32).astype(np.float64)))) < 1e-6 * float(returned)
    np.testing.assert_allclose(np.linalg.norm(p.grad.numpy().astype(np.float64)), 1.0, rtol=1e-5)
