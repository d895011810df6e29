"""Rprop, Adafactor, optimizer hooks and optim.swa_utils against torch.optim, step by step.

Same initial weights and gradient sequence in both libraries; the state dicts in PyTorch's
layout (Adafactor's factored row/col moments included), loadable both ways mid-run; the
hooks' order, arguments, replacement values and removable handles; AveragedModel (SWA and
EMA, with and without buffers), SWALR's lrs and update_bn's BatchNorm statistics.
"""
import inspect

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.optim as optim
from tinynet.optim import swa_utils
from tinynet.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (2, 3, 5)]
STEPS = 10

CASES = [
    ("Rprop", {}),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("Adafactor", {}),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=2.0, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(lr=0.5, eps=(1e-6, 1e-3), d=1.0)),  # rho = 1/sqrt(t) takes over
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _problem(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) * (1 if t % 3 else -1) for s in SHAPES] for t in range(steps)]
    return init, grads


def _steps(params, opt, grads, lib):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g) if lib is torch else tn.tensor(g, dtype=p.dtype, device=p.device)
        opt.step()


def _values(params):
    return [p.detach().numpy().astype(np.float64) for p in params]


def _tn_params(arrays, dtype=tn.float64, device="cpu"):
    return [nn.Parameter(tn.tensor(a, dtype=dtype, device=device)) for a in arrays]


def to_tinynet(obj):
    if isinstance(obj, torch.Tensor):
        return tn.tensor(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: to_tinynet(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_tinynet(v) for v in obj]
    return obj


def to_torch(obj):
    if isinstance(obj, tn.Tensor):
        return torch.from_numpy(obj.numpy().copy())
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_torch(v) for v in obj]
    return obj


@pytest.fixture
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch_step_by_step(name, kwargs, f64):
    init, grads = _problem()
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    params = _tn_params(init)
    opt = getattr(optim, name)(params, **kwargs)
    for t in range(STEPS):
        _steps(tparams, topt, [grads[t]], torch)
        _steps(params, opt, [grads[t]], tn)
        for a, b in zip(_values(params), _values(tparams)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name} step {t + 1}")
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2]
    for i in sd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i]), name
        for k, v in tsd["state"][i].items():
            mine = sd["state"][i][k]
            mine = mine.numpy() if isinstance(mine, tn.Tensor) else mine
            assert np.shape(mine) == tuple(v.shape), (name, k)
            np.testing.assert_allclose(mine, v.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} state {k}")
    for k, v in sd["param_groups"][0].items():
        assert tsd["param_groups"][0][k] == v, (name, k)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_loads_both_ways_mid_run(name, kwargs, f64):
    init, grads = _problem()
    full = [torch.tensor(a, requires_grad=True) for a in init]
    _steps(full, getattr(torch.optim, name)(full, **kwargs), grads, torch)
    expected = _values(full)
    # torch -> tinynet
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    _steps(tparams, topt, grads[:4], torch)
    params = _tn_params(_values(tparams))
    opt = getattr(optim, name)(params, **{**kwargs, "lr": 0.123})
    opt.load_state_dict(to_tinynet(topt.state_dict()))
    assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    _steps(params, opt, grads[4:], tn)
    for a, b in zip(_values(params), expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name}: torch -> tinynet")
    # tinynet -> torch
    params = _tn_params(init)
    opt = getattr(optim, name)(params, **kwargs)
    _steps(params, opt, grads[:4], tn)
    tparams = [torch.tensor(a, requires_grad=True) for a in _values(params)]
    topt = getattr(torch.optim, name)(tparams, **{**kwargs, "lr": 0.123})
    topt.load_state_dict(to_torch(opt.state_dict()))
    _steps(tparams, topt, grads[4:], torch)
    for a, b in zip(_values(tparams), expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name}: tinynet -> torch")


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float32_and_simulated_cuda_track_float64(name, kwargs):
    init, grads = _problem()
    p64 = _tn_params(init)
    p32 = _tn_params(init, tn.float32)
    pcu = _tn_params(init, tn.float64, device="cuda")
    for ps in (p64, p32, pcu):
        _steps(ps, getattr(optim, name)(ps, **kwargs), grads, tn)
    assert all(p.dtype == tn.float32 for p in p32)
    for a, b, c in zip(_values(p32), _values(p64), _values(pcu)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(c, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["Rprop", "Adafactor"])
def test_signature_is_pytorchs(name):
    ours = list(inspect.signature(getattr(optim, name).__init__).parameters.values())
    theirs = list(inspect.signature(getattr(torch.optim, name).__init__).parameters.values())
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in theirs]
    for a, b in zip(ours, theirs):
        if b.default is not inspect.Parameter.empty:
            assert a.default == b.default, (name, a.name)


@pytest.mark.parametrize("name,kwargs,error,fragment", [
    ("Rprop", dict(lr=-1.0), ValueError, "Invalid learning rate"),
    ("Rprop", dict(etas=(1.5, 1.2)), ValueError, "Invalid eta values"),
    ("Rprop", dict(etas=(0.5, 0.9)), ValueError, "Invalid eta values"),
    ("Rprop", dict(etas=0.5), TypeError, "etas must be a pair"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), ValueError, "Invalid step_sizes"),
    ("Rprop", dict(foreach=True), ValueError, "foreach=True is not supported"),
    ("Adafactor", dict(beta2_decay=0.5), ValueError, "beta2_decay should be <= 0"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), ValueError, "epsilon1"),
    ("Adafactor", dict(eps=(None, -1.0)), ValueError, "epsilon2"),
    ("Adafactor", dict(eps=1e-3), TypeError, "eps must be a pair"),
    ("Adafactor", dict(d=0.5), ValueError, "Clipping threshold d should be >= 1"),
    ("Adafactor", dict(weight_decay=-0.1), ValueError, "weight_decay"),
    ("Adafactor", dict(maximize=1), TypeError, "maximize must be True or False"),
])
def test_constructor_checks(name, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        getattr(optim, name)(_tn_params(_problem()[0]), **kwargs)


def test_adafactor_refuses_misshapen_state_and_changes_nothing():
    init, grads = _problem()
    params = _tn_params(init)
    opt = optim.Adafactor(params)
    _steps(params, opt, grads[:2], tn)
    sd = opt.state_dict()
    bad = {"state": {**sd["state"], 0: {**sd["state"][0], "row_var": tn.zeros(3, 4, dtype=tn.float64)}},
           "param_groups": sd["param_groups"]}
    fresh = optim.Adafactor(_tn_params(init))
    with pytest.raises(ValueError, match=r"state 'row_var' has shape \(3, 4\), expected \(3, 1\)"):
        fresh.load_state_dict(bad)
    assert fresh.state == {}
    swapped = {"state": {**sd["state"], 1: {"step": 2, "row_var": tn.zeros(4, dtype=tn.float64),
                                              "col_var": tn.zeros(4, dtype=tn.float64)}},
               "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="holds \\['variance'\\]"):
        fresh.load_state_dict(swapped)
    other = optim.Rprop(_tn_params(init))
    with pytest.raises(ValueError, match="Adafactor's, not Rprop's"):
        other.load_state_dict(sd)


# --- hooks -------------------------------------------------------------------------------------------
def _one_param_opt(cls=optim.SGD, **kw):
    p = nn.Parameter(tn.tensor([1.0, 2.0]))
    p.grad = tn.tensor([0.5, 0.5])
    return p, cls([p], lr=0.1, **kw)


def test_step_hooks_order_arguments_and_removal():
    p, opt = _one_param_opt()
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt, a[0] is opt, dict(k))))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt)))
    g1 = register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("gpre",)))
    g2 = register_optimizer_step_post_hook(lambda o, a, k: calls.append(("gpost",)))
    try:
        opt.step()
        assert calls == [("gpre",), ("pre", True, True, {}), ("post", True), ("gpost",)]
        np.testing.assert_allclose(p.detach().numpy(), [0.95, 1.95])
        h1.remove(), h2.remove(), h1.remove()
        calls.clear()
        opt.step()
        assert calls == [("gpre",), ("gpost",)]
    finally:
        g1.remove(), g2.remove()
    calls.clear()
    opt.step()
    assert calls == []


def test_step_pre_hook_can_replace_the_arguments():
    p, opt = _one_param_opt()
    seen = []

    def closure():
        seen.append("closure")
        return tn.tensor(3.0)

    opt.register_step_pre_hook(lambda o, a, k: (a, {"closure": closure}))
    loss = opt.step()
    assert seen == ["closure"] and float(loss) == 3.0
    opt.register_step_pre_hook(lambda o, a, k: "nonsense")
    with pytest.raises(RuntimeError, match="must return None or a tuple of \\(new_args, new_kwargs\\)"):
        opt.step()


def test_step_hooks_run_once_for_subclass_steps():
    """LBFGS defines its own step; a user subclass calling super().step() runs the hooks once."""
    class MySGD(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    for cls in (MySGD, optim.LBFGS, optim.Rprop, optim.Adafactor):
        p, opt = _one_param_opt(cls)
        count = []
        opt.register_step_pre_hook(lambda o, a, k: count.append(1))
        opt.register_step_post_hook(lambda o, a, k: count.append(2))
        if cls is optim.LBFGS:
            opt.step(lambda: (p * p).sum())
        else:
            opt.step()
        assert count == [1, 2], cls


def test_state_dict_hooks():
    p, opt = _one_param_opt(optim.Adam)
    opt.step()
    order = []
    opt.register_state_dict_pre_hook(lambda o: order.append("pre"))
    opt.register_state_dict_pre_hook(lambda o: order.append("pre0"), prepend=True)

    def post(o, sd):
        order.append("post")
        sd["param_groups"][0]["note"] = "hooked"

    opt.register_state_dict_post_hook(post)
    replaced = opt.register_state_dict_post_hook(lambda o, sd: {"replaced": sd})
    sd = opt.state_dict()
    assert order == ["pre0", "pre", "post"]
    assert sd["replaced"]["param_groups"][0]["note"] == "hooked"
    replaced.remove()
    assert "state" in opt.state_dict()


def test_load_state_dict_hooks():
    p, opt = _one_param_opt(optim.Adam)
    opt.step()
    sd = opt.state_dict()
    p2, opt2 = _one_param_opt(optim.Adam)
    seen = []

    def pre(o, state_dict):
        seen.append(("pre", state_dict is sd))
        new = dict(state_dict)
        new["param_groups"] = [{**state_dict["param_groups"][0], "lr": 0.5}]
        return new

    opt2.register_load_state_dict_pre_hook(pre)
    opt2.register_load_state_dict_post_hook(lambda o: seen.append(("post", o.param_groups[0]["lr"])))
    opt2.load_state_dict(sd)
    assert seen == [("pre", False), ("post", 0.5)]  # a shallow copy is passed; the returned dict is loaded
    assert sd["param_groups"][0]["lr"] == 0.1
    with pytest.raises(TypeError, match="a hook must be callable"):
        opt2.register_load_state_dict_post_hook(3)


# --- swa_utils -------------------------------------------------------------------------------------
def _nets(seed=0):
    torch.manual_seed(seed)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tnet = tnet.double()
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).to(tn.float64)
    net.load_state_dict({k: tn.tensor(v.numpy().copy()) for k, v in tnet.state_dict().items()})
    return tnet, net


def _perturb(tnet, net, rng):
    """The same random change to both nets' parameters and BatchNorm buffers."""
    with torch.no_grad():
        for (k, tp), p in zip(tnet.state_dict().items(), net.state_dict().values()):
            if tp.dtype.is_floating_point:
                d = rng.standard_normal(tuple(tp.shape))
                tp.add_(torch.tensor(d))
                p.array[...] += d
                p._bump()


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema", "swa_fn", "swa_buffers", "ema_buffers"])
def test_averaged_model_matches_torch(kind):
    tnet, net = _nets()
    S = torch.optim.swa_utils
    kw = {"swa": ({}, {}),
          "ema_multi": (dict(multi_avg_fn=S.get_ema_multi_avg_fn(0.9)),
                        dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))),
          "ema": (dict(avg_fn=S.get_ema_avg_fn(0.8)), dict(avg_fn=swa_utils.get_ema_avg_fn(0.8))),
          "swa_fn": (dict(avg_fn=S.get_swa_avg_fn()), dict(avg_fn=swa_utils.get_swa_avg_fn())),
          "swa_buffers": (dict(use_buffers=True), dict(use_buffers=True)),
          "ema_buffers": (dict(multi_avg_fn=S.get_ema_multi_avg_fn(0.7), use_buffers=True),
                          dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.7), use_buffers=True))}[kind]
    tavg, avg = S.AveragedModel(tnet, **kw[0]), swa_utils.AveragedModel(net, **kw[1])
    rng = np.random.default_rng(1)
    for _ in range(4):
        tavg.update_parameters(tnet)
        avg.update_parameters(net)
        _perturb(tnet, net, rng)
    tsd, sd = tavg.state_dict(), avg.state_dict()
    assert list(tsd) == list(sd)
    for k, v in tsd.items():
        np.testing.assert_allclose(sd[k].detach().numpy(), v.numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    assert int(avg.n_averaged.item()) == 4 and avg.n_averaged.dtype == tn.int64
    x = np.random.default_rng(2).standard_normal((5, 3))
    tavg.eval(), avg.eval()
    np.testing.assert_allclose(avg(tn.tensor(x)).detach().numpy(), tavg(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert avg.module is not net and avg.module[0].weight is not net[0].weight


def test_averaged_model_checks():
    _, net = _nets()
    with pytest.raises(ValueError, match="only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(TypeError, match="must be an nn.Module"):
        swa_utils.AveragedModel(3)
    avg = swa_utils.AveragedModel(net)
    with pytest.raises(ValueError, match="the model has 2 parameters"):
        avg.update_parameters(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1"):
        swa_utils.get_ema_avg_fn(-0.1)


def test_averaged_model_on_another_device():
    _, net = _nets()
    avg = swa_utils.AveragedModel(net, device="cuda")
    avg.update_parameters(net)
    assert avg.module[0].weight.device.type == "cuda" and avg.n_averaged.device.type == "cuda"
    np.testing.assert_allclose(avg.module[0].weight.detach().numpy(), net[0].weight.detach().numpy())


@pytest.mark.parametrize("strategy,anneal_epochs", [("cos", 10), ("linear", 3), ("cos", 0), ("linear", 1)])
def test_swalr_matches_torch(strategy, anneal_epochs):
    tp = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    topt = torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.3}], lr=0.1)
    tsched = torch.optim.swa_utils.SWALR(topt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs,
                                         anneal_strategy=strategy)
    params = _tn_params([np.zeros(2), np.zeros(2)])
    opt = optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.3}], lr=0.1)
    sched = swa_utils.SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    for _ in range(14):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in topt.param_groups]
        topt.step(), opt.step()
        tsched.step(), sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.05, 0.01], rtol=1e-12)
    sd = sched.state_dict()
    sched2 = swa_utils.SWALR(opt, swa_lr=0.2, anneal_epochs=5)
    sched2.load_state_dict(sd)
    assert sched2.anneal_strategy == strategy and sched2.anneal_epochs == anneal_epochs
    with pytest.raises(ValueError, match="anneal_epochs must be an int >= 0"):
        sched2.load_state_dict({**sd, "anneal_epochs": -2})


def test_swalr_checks():
    params = _tn_params([np.zeros(2)])
    opt = optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, 0.05, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, 0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, [0.05, 0.1])
    with pytest.raises(ValueError, match=r"swa_lr\[0\] must be a finite number >= 0"):
        swa_utils.SWALR(opt, -1.0)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        swa_utils.SWALR(object(), 0.05)


def test_update_bn_matches_torch():
    tnet, net = _nets()
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3)) for _ in range(3)]
    net.eval(), tnet.eval()
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], tnet)
    swa_utils.update_bn([(tn.tensor(b), 0) for b in batches], net)
    assert not net.training and not net[1].training
    assert net[1].momentum == tnet[1].momentum == 0.1
    for k, v in tnet.state_dict().items():
        np.testing.assert_allclose(net.state_dict()[k].detach().numpy(), v.numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    # tensors (not tuples) and a device move
    net2 = nn.Sequential(nn.BatchNorm1d(3)).to(tn.float64).to("cuda")
    swa_utils.update_bn([tn.tensor(b) for b in batches], net2, device="cuda")
    allb = np.concatenate(batches)
    np.testing.assert_allclose(net2[0].running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-12)
    assert allb.shape == (18, 3)
    # no BatchNorm: nothing happens, the loader is not even read
    swa_utils.update_bn(iter(()), nn.Linear(2, 2))


@pytest.mark.parametrize("name", ["Rprop", "Adafactor"])
def test_state_dict_survives_tn_save(name, tmp_path):
    init, grads = _problem()
    params = _tn_params(init)
    opt = getattr(optim, name)(params)
    _steps(params, opt, grads[:3], tn)
    tn.save(opt.state_dict(), tmp_path / "opt.safetensors")
    loaded = tn.load(tmp_path / "opt.safetensors")
    params2 = _tn_params(_values(params))
    opt2 = getattr(optim, name)(params2)
    opt2.load_state_dict(loaded)
    _steps(params, opt, grads[3:], tn)
    _steps(params2, opt2, grads[3:], tn)
    for a, b in zip(_values(params2), _values(params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
