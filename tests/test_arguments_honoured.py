"""PyTorch arguments are honoured or refused, never accepted and ignored.

* ``inplace=True`` (``F.relu``, ``F.leaky_relu``, ``F.elu``, ``F.hardtanh``, ``F.silu``,
  ``F.dropout``, ``F.dropout2d`` and their modules) writes into the input's memory, returns
  the input itself and bumps its version counter; autograd follows PyTorch's rules (a
  leaf that requires grad is refused, a value a graph saved is caught at backward).
* ``maximize=True`` ascends, as torch.optim does.
* The optimizers' implementation switches (``foreach``, ``fused``, ``capturable``,
  ``differentiable``) and ``clip_grad_*``'s ``foreach``: what tinynet runs is accepted,
  the rest raises ValueError naming the argument; a wrong type raises TypeError.
* ``SequentialLR.step(epoch)`` is refused, as PyTorch's ``step()`` takes no epoch.

Values are compared with torch (float64) where it is installed.
"""
import inspect
import re

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.autograd import Op

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# --- inplace=True --------------------------------------------------------------------------------
#: (name, tinynet op, torch op) with the keyword arguments each takes
ACTIVATIONS = [
    ("relu", lambda x, **k: F.relu(x, **k), lambda x, **k: tF.relu(x, **k)),
    ("leaky_relu", lambda x, **k: F.leaky_relu(x, 0.2, **k), lambda x, **k: tF.leaky_relu(x, 0.2, **k)),
    ("elu", lambda x, **k: F.elu(x, 0.7, **k), lambda x, **k: tF.elu(x, 0.7, **k)),
    ("hardtanh", lambda x, **k: F.hardtanh(x, -0.5, 0.8, **k), lambda x, **k: tF.hardtanh(x, -0.5, 0.8, **k)),
    ("silu", lambda x, **k: F.silu(x, **k), lambda x, **k: tF.silu(x, **k)),
]
IDS = [a[0] for a in ACTIVATIONS]


def _data(shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name,op,top", ACTIVATIONS, ids=IDS)
def test_inplace_activation_overwrites_and_returns_its_input(name, op, top):
    a = _data()
    x = tn.tensor(a, dtype=tn.float64)
    before = x._version[0]
    storage = x.array
    y = op(x, inplace=True)
    assert y is x and x.array is storage, name
    assert x._version[0] == before + 1, name
    tx = torch.tensor(a)
    top(tx, inplace=True)
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name,op,top", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize("create_graph", [False, True])
def test_inplace_activation_gradients_match_torch(name, op, top, create_graph):
    a, g = _data(seed=1), _data(seed=2)
    w = tn.tensor(a, dtype=tn.float64, requires_grad=True)
    h = w * 1.5  # a non-leaf: the in-place op continues its history
    out = op(h, inplace=True)
    assert out is h and h.grad_fn is not None
    (dw,) = (tn.autograd.grad(out, [w], grad_outputs=[tn.tensor(g, dtype=tn.float64)], create_graph=create_graph))
    tw = torch.tensor(a, requires_grad=True)
    th = tw * 1.5
    tout = top(th, inplace=True)
    (tdw,) = torch.autograd.grad(tout, [tw], grad_outputs=[torch.tensor(g)])
    np.testing.assert_allclose(dw.detach().numpy(), tdw.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name,op,top", ACTIVATIONS, ids=IDS)
def test_inplace_on_every_device(name, op, top, device, monkeypatch):
    monkeypatch.setitem(tn.device(device).kernels.KERNEL_MIN_ELEMENTS, "relu", 0)  # the fused ReLU kernels too
    a = _data((16, 10), seed=4)
    x = tn.tensor(a, dtype=tn.float32, device=device)
    expected = op(tn.tensor(a, dtype=tn.float32, device=device)).numpy()
    assert op(x, inplace=True) is x and x.device == device
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-7)
    w = tn.tensor(a, dtype=tn.float32, device=device, requires_grad=True)
    op(w * 1.0, inplace=True).sum().backward()
    v = tn.tensor(a, dtype=tn.float32, device=device, requires_grad=True)
    op(v * 1.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), v.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,op,top", ACTIVATIONS, ids=IDS)
def test_inplace_matches_out_of_place_second_derivatives(name, op, top):
    a = _data(seed=3)

    def grads(inplace):
        w = tn.tensor(a, dtype=tn.float64, requires_grad=True)
        y = op(w * 1.0, inplace=inplace)
        (gw,) = tn.autograd.grad((y * y).sum(), [w], create_graph=True)
        (ggw,) = tn.autograd.grad(gw.sum(), [w])
        return gw.detach().numpy(), ggw.numpy()

    for got, want in zip(grads(True), grads(False)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name,op,top", ACTIVATIONS, ids=IDS)
def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_in_torch(name, op, top):
    x = tn.tensor(_data(), dtype=tn.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{name}\(inplace=True\): a leaf tensor that requires grad"):
        op(x, inplace=True)
    assert x.grad_fn is None and x._version[0] == 0  # nothing changed
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        top(torch.tensor(_data(), requires_grad=True), inplace=True)
    with tn.no_grad():  # allowed without recording, as in torch
        assert op(x, inplace=True) is x
    assert x._version[0] == 1


def test_inplace_change_of_a_saved_value_is_caught_at_backward_as_in_torch():
    a = _data()
    w = tn.tensor(a, dtype=tn.float64, requires_grad=True)
    s = tn.sigmoid(w)  # sigmoid's backward reads its output s
    F.relu(s, inplace=True)
    with pytest.raises(RuntimeError, match="sigmoid: its output was modified in place"):
        s.sum().backward()
    tw = torch.tensor(a, requires_grad=True)
    ts = torch.sigmoid(tw)
    tF.relu(ts, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ts.sum().backward()


def test_inplace_after_an_op_that_does_not_read_its_output_is_fine():
    """linear/conv/matmul/add do not read their output, so ReLU(inplace=True) after them works
    (the common nn.Sequential(Linear, ReLU(inplace=True)) case)."""
    tn.manual_seed(0)
    layers = [nn.Linear(3, 5), nn.ReLU(inplace=True), nn.Linear(5, 2)]
    x = tn.randn(4, 3)
    nn.Sequential(*layers)(x).sum().backward()
    inplace_grads = [p.grad.numpy().copy() for p in nn.Sequential(*layers).parameters()]
    for p in nn.Sequential(*layers).parameters():
        p.grad = None
    nn.Sequential(layers[0], nn.ReLU(), layers[2])(x).sum().backward()
    for got, p in zip(inplace_grads, nn.Sequential(*layers).parameters()):
        np.testing.assert_allclose(got, p.grad.numpy())


def test_inplace_through_a_view_is_refused_when_recording_and_writes_through_otherwise():
    w = tn.tensor(_data((2, 3)), dtype=tn.float64, requires_grad=True)
    v = (w * 1.0)[0]  # a view of a non-leaf
    with pytest.raises(RuntimeError, match="relu\\(inplace=True\\): the tensor is a view"):
        F.relu(v, inplace=True)
    base = tn.tensor([[-1.0, 2.0], [3.0, -4.0]])
    row = base[1]
    assert F.relu(row, inplace=True) is row
    assert base.tolist() == [[-1.0, 2.0], [3.0, 0.0]]  # written through, as in torch
    assert base._version[0] == 1  # views share their base's version counter


def test_inplace_on_a_broadcast_view_is_refused():
    x = tn.tensor([-1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="can't be written"):
        F.relu(x, inplace=True)


@pytest.mark.parametrize("cls,args", [(nn.ReLU, ()), (nn.LeakyReLU, (0.1,)), (nn.ELU, (0.5,)), (nn.SiLU, ())])
def test_inplace_modules(cls, args):
    m = cls(*args, inplace=True)
    x = tn.tensor(_data(), dtype=tn.float64)
    expected = cls(*args)(x).numpy()
    assert m(x) is x
    np.testing.assert_allclose(x.numpy(), expected)
    assert "inplace=True" in repr(m) and "inplace" not in repr(cls(*args))
    tm = getattr(torch.nn, cls.__name__)(*args, inplace=True)
    assert "inplace=True" in repr(tm)


@pytest.mark.parametrize("dropout,shape", [(F.dropout, (6, 50)), (F.dropout2d, (4, 6, 3, 3))])
def test_inplace_dropout(dropout, shape):
    a = np.abs(_data(shape)) + 0.5  # no zeros of its own
    tn.manual_seed(3)
    expected = dropout(tn.tensor(a, dtype=tn.float64), 0.4, True).numpy()
    tn.manual_seed(3)
    x = tn.tensor(a, dtype=tn.float64)
    assert dropout(x, 0.4, True, inplace=True) is x
    np.testing.assert_allclose(x.numpy(), expected)
    assert x._version[0] == 1
    kept = expected != 0
    np.testing.assert_allclose(expected[kept], a[kept] / 0.6)
    # gradient through the in-place form: the mask times the incoming gradient
    w = tn.tensor(a, dtype=tn.float64, requires_grad=True)
    tn.manual_seed(3)
    h = w * 1.0
    out = dropout(h, 0.4, True, inplace=True)
    assert out is h
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), kept / 0.6)
    # evaluation mode: nothing to do, the input comes back untouched
    y = tn.tensor(a, dtype=tn.float64)
    assert dropout(y, 0.4, False, inplace=True) is y and y._version[0] == 0


@pytest.mark.parametrize("cls,shape", [(nn.Dropout, (5, 8)), (nn.Dropout2d, (2, 3, 4, 4))])
def test_inplace_dropout_modules(cls, shape):
    m = cls(0.5, inplace=True)
    x = tn.ones(*shape)
    assert m(x) is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
    m.eval()
    y = tn.ones(*shape)
    assert m(y) is y and float(y.sum()) == y.numel()


def test_ops_that_read_their_output_say_so():
    """``saves_output=False`` lets the output be changed in place; an op whose backward reads
    its output (``self.out`` / ``self.output()``) must keep it True, or a later in-place change
    would silently corrupt its gradient."""
    from conftest import function_classes

    seen = set(function_classes())
    wrong = []
    for cls in seen:
        source = ""
        for k in cls.__mro__:
            if k is Op:
                break
            source += inspect.getsource(k)
        if cls.saves_values and not cls.saves_output and re.search(r"self\.out\b|self\.output\(\)", source):
            wrong.append(cls.__name__)
    assert not wrong, f"ops that read their output but declare saves_output=False: {sorted(wrong)}"


# --- maximize ------------------------------------------------------------------------------------
OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
]


def _trajectory(make_param, make_opt, grads):
    p = make_param()
    opt = make_opt([p])
    for g in grads:
        p.grad = g(p)
        opt.step()
    return p


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_maximize_ascends_like_torch(name, kwargs):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    ours = nn.Parameter(tn.tensor(start, dtype=tn.float64))
    opt = getattr(optim, name)([ours], maximize=True, **kwargs)
    theirs = torch.nn.Parameter(torch.tensor(start))
    topt = getattr(torch.optim, name)([theirs], maximize=True, **kwargs)
    for g in grads:
        ours.grad = tn.tensor(g, dtype=tn.float64)
        theirs.grad = torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    # ... and it is not the minimizing trajectory
    plain = nn.Parameter(tn.tensor(start, dtype=tn.float64))
    popt = getattr(optim, name)([plain], **kwargs)
    for g in grads:
        plain.grad = tn.tensor(g, dtype=tn.float64)
        popt.step()
    assert not np.allclose(plain.detach().numpy(), ours.detach().numpy())


# --- optimizer implementation switches ------------------------------------------------------------
def _switch_cases():
    """(optimizer, switch, value, accepted) for every switch torch's signature has."""
    accepted = {"foreach": (None, False), "fused": (None, True), "capturable": (False,), "differentiable": (False,)}
    refused = {"foreach": (True,), "fused": (False,), "capturable": (True,), "differentiable": (True,)}
    cases = []
    for name, _ in OPTIMIZERS:
        torch_params = inspect.signature(getattr(torch.optim, name)).parameters
        ours = inspect.signature(getattr(optim, name)).parameters
        for switch in accepted:
            if switch in torch_params:
                assert switch in ours, f"{name} lacks torch's {switch}="
                cases += [pytest.param(name, switch, v, True, id=f"{name}-{switch}={v}") for v in accepted[switch]]
                cases += [pytest.param(name, switch, v, False, id=f"{name}-{switch}={v}") for v in refused[switch]]
    return cases


@pytest.mark.parametrize("name,switch,value,accepted", _switch_cases())
def test_optimizer_switches_are_honoured_or_refused(name, switch, value, accepted):
    kwargs = dict(OPTIMIZERS)[name]
    rng = np.random.default_rng(1)
    start, grad = rng.standard_normal(4), rng.standard_normal(4)
    p = nn.Parameter(tn.tensor(start, dtype=tn.float64))
    if not accepted:
        with pytest.raises(ValueError, match=rf"{name}: {switch}={value} is not supported.*Pass {switch}="):
            getattr(optim, name)([p], **{switch: value}, **kwargs)
        return
    opt = getattr(optim, name)([p], **{switch: value}, **kwargs)
    p.grad = tn.tensor(grad, dtype=tn.float64)
    opt.step()
    tp = torch.nn.Parameter(torch.tensor(start))
    topt = getattr(torch.optim, name)([tp], **kwargs)
    tp.grad = torch.tensor(grad)
    topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("switch", ["foreach", "fused", "capturable", "differentiable"])
def test_optimizer_switch_of_the_wrong_type_is_a_type_error(switch):
    p = nn.Parameter(tn.zeros(2))
    with pytest.raises(TypeError, match=f"Adam: {switch} must be"):
        optim.Adam([p], **{switch: "yes"})


def test_optimizer_switches_stay_out_of_the_state_dict():
    """They change no number, so (as before) the groups hold only hyper-parameters, and a
    torch state dict carrying them still loads."""
    p = nn.Parameter(tn.zeros(3))
    opt = optim.Adam([p], foreach=False, fused=True)
    group = opt.state_dict()["param_groups"][0]
    assert not {"foreach", "fused", "capturable", "differentiable"} & set(group)
    tp = torch.nn.Parameter(torch.zeros(3))
    tp.grad = torch.ones(3)
    topt = torch.optim.Adam([tp])
    topt.step()
    sd = topt.state_dict()
    opt.load_state_dict({"state": {k: {n: (tn.tensor(v.numpy()) if hasattr(v, "numpy") else v) for n, v in s.items()}
                                   for k, s in sd["state"].items()},
                         "param_groups": sd["param_groups"]})


@pytest.mark.parametrize("clip,args", [(nn.utils.clip_grad_norm_, (1.0,)), (nn.utils.clip_grad_value_, (0.5,))])
def test_clip_grad_foreach(clip, args):
    def params():
        p = nn.Parameter(tn.tensor([3.0, -4.0], dtype=tn.float64))
        p.grad = tn.tensor([3.0, -4.0], dtype=tn.float64)
        return p

    base = params()
    clip([base], *args)
    for value in (None, False):
        p = params()
        clip([p], *args, foreach=value)
        np.testing.assert_allclose(p.grad.numpy(), base.grad.numpy())
    tp = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
    tp.grad = torch.tensor([3.0, -4.0])
    getattr(torch.nn.utils, clip.__name__)([tp], *args)
    np.testing.assert_allclose(base.grad.numpy(), tp.grad.numpy())
    with pytest.raises(ValueError, match=f"{clip.__name__}: foreach=True is not supported"):
        clip([params()], *args, foreach=True)
    with pytest.raises(TypeError, match="foreach must be None, True or False"):
        clip([params()], *args, foreach=1)


# --- schedulers ------------------------------------------------------------------------------------
def test_sequential_lr_step_refuses_an_epoch_like_torch():
    p = nn.Parameter(tn.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = optim.lr_scheduler.SequentialLR(
        opt, [optim.lr_scheduler.LinearLR(opt, 0.5, total_iters=2), optim.lr_scheduler.ExponentialLR(opt, 0.9)], [2])
    with pytest.raises(TypeError, match=r"SequentialLR.step\(\) takes no epoch"):
        sched.step(3)
    sched.step()
    assert "epoch" not in inspect.signature(torch.optim.lr_scheduler.SequentialLR.step).parameters


# --- arguments PyTorch itself ignores ------------------------------------------------------------
def test_identity_ignores_its_arguments_as_torch_does():
    x = tn.ones(2)
    assert nn.Identity(3, key="value")(x) is x
    assert torch.nn.Identity(3, key="value")(torch.ones(2)).shape == (2,)


def test_output_padding_is_refused_on_a_plain_convolution():
    """PyTorch's Conv2d has no output_padding; tinynet's shared constructor refuses it rather
    than store and ignore it (the transposed convolution uses it)."""
    with pytest.raises(TypeError, match="output_padding is an argument of the transposed"):
        tn.nn.Conv2d(2, 3, 3, output_padding=1)
    with pytest.raises(TypeError, match="ConvTranspose1d"):
        tn.nn.Conv1d(2, 3, 3, output_padding=(1,))
    assert tn.nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1)(tn.ones(1, 2, 4, 4)).shape == (1, 3, 10, 10)
