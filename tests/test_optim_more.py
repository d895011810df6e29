"""Adadelta, Adamax, NAdam, RAdam, ASGD and LBFGS against torch.optim, step by step.

Same initial weights, the same fixed gradient sequence (12 steps), every option; state
dicts in PyTorch's layout, loadable both ways (torch -> tinynet and tinynet -> torch) in
the middle of a run; one step on the (simulated) cuda device; the constructors' checks.
LBFGS runs on real closures: a Rosenbrock function and a small logistic regression.
Also: every optimizer's constructor has PyTorch's arguments, order and defaults.
"""
import inspect

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.optim as optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,)]
STEPS = 12

CASES = [
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", {}),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, maximize=True)),
    ("NAdam", {}),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01, maximize=True)),
    ("RAdam", {}),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), eps=1e-6, weight_decay=0.1)),  # rho_t > 5 from step 6
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", {}),
    ("ASGD", dict(lr=0.1, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1, maximize=True)),  # averaging from t0
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


@pytest.fixture
def f64():
    """torch's scalar state (NAdam's mu_product, ASGD's eta and mu) in float64, like tinynet's numbers."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _tn_params(arrays, dtype=tn.float64, device="cpu"):
    return [nn.Parameter(tn.tensor(a, dtype=dtype, device=device)) for a in arrays]


def _steps(params, opt, grads, lib):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g) if lib is torch else tn.tensor(g, dtype=p.dtype, device=p.device)
        opt.step()


def _values(params):
    return [p.detach().numpy().astype(np.float64) if isinstance(p, tn.Tensor) else p.detach().numpy()
            for p in params]


def to_tinynet(obj):
    """A torch state dict with every tensor turned into a tinynet tensor (same dtype)."""
    if isinstance(obj, torch.Tensor):
        return tn.tensor(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: to_tinynet(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_tinynet(v) for v in obj]
    return obj


def to_torch(obj):
    """A tinynet state dict with every tinynet tensor turned into a torch tensor."""
    if isinstance(obj, tn.Tensor):
        return torch.from_numpy(obj.numpy().copy())
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_torch(v) for v in obj]
    return obj


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
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"{name} step {t + 1}")
    # the state, key by key, in PyTorch's layout
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert set(sd["state"][i]) == set(tsd["state"][i]), name
        for k, v in tsd["state"][i].items():
            mine = sd["state"][i][k]
            mine = mine.numpy() if isinstance(mine, tn.Tensor) else mine
            np.testing.assert_allclose(mine, v.numpy(), rtol=1e-11, atol=1e-13, err_msg=f"{name} state {k}")
    assert sd["param_groups"][0]["params"] == [0, 1]
    for k, v in sd["param_groups"][0].items():
        assert tsd["param_groups"][0][k] == v, (name, k)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float32_tracks_float64(name, kwargs):
    init, grads = _problem()
    p64, p32 = _tn_params(init), _tn_params(init, tn.float32)
    o64, o32 = getattr(optim, name)(p64, **kwargs), getattr(optim, name)(p32, **kwargs)
    _steps(p64, o64, grads, tn)
    _steps(p32, o32, grads, tn)
    assert all(p.dtype == tn.float32 for p in p32)
    assert all(v.dtype == tn.float32 for s in o32.state.values() for v in s.values() if isinstance(v, tn.Tensor))
    for a, b in zip(_values(p32), _values(p64)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_loads_both_ways_mid_run(name, kwargs, f64):
    """5 steps in one library, its state dict loaded into the other (with a wrong lr, which
    the state dict overrides), 7 more steps: equal to 12 steps in torch alone."""
    init, grads = _problem()
    full = [torch.tensor(a, requires_grad=True) for a in init]
    _steps(full, getattr(torch.optim, name)(full, **kwargs), grads, torch)
    expected = _values(full)
    # torch -> tinynet
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    _steps(tparams, topt, grads[:5], torch)
    params = _tn_params(_values(tparams))
    opt = getattr(optim, name)(params, **{**kwargs, "lr": 0.123})
    opt.load_state_dict(to_tinynet(topt.state_dict()))
    assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    _steps(params, opt, grads[5:], tn)
    for a, b in zip(_values(params), expected):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"{name}: torch -> tinynet")
    # tinynet -> torch
    params = _tn_params(init)
    opt = getattr(optim, name)(params, **kwargs)
    _steps(params, opt, grads[:5], tn)
    tparams = [torch.tensor(a, requires_grad=True) for a in _values(params)]
    topt = getattr(torch.optim, name)(tparams, **{**kwargs, "lr": 0.123})
    topt.load_state_dict(to_torch(opt.state_dict()))
    _steps(tparams, topt, grads[5:], torch)
    for a, b in zip(_values(tparams), expected):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"{name}: tinynet -> torch")
    # tinynet -> tinynet, through tn.save-able plain data; the loaded state is a copy
    params = _tn_params(init)
    opt = getattr(optim, name)(params, **kwargs)
    _steps(params, opt, grads[:5], tn)
    sd = opt.state_dict()
    params2 = _tn_params(_values(params))
    opt2 = getattr(optim, name)(params2, **kwargs)
    opt2.load_state_dict(sd)
    _steps(params2, opt2, grads[5:], tn)
    for a, b in zip(_values(params2), expected):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"{name}: tinynet -> tinynet")
    assert opt.state[params[0]]["step"] == 5 and opt2.state[params2[0]]["step"] == 12


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"])
def test_load_refuses_another_optimizers_state(name):
    params = _tn_params(_problem()[0])
    other = "Adam" if name != "Adam" else "SGD"
    src = getattr(optim, other)(_tn_params(_problem()[0]), lr=0.1)
    opt = getattr(optim, name)(params)
    with pytest.raises(ValueError, match=f"{other}'s, not {name}'s"):
        opt.load_state_dict(src.state_dict())


def test_load_checks_scalar_state_and_changes_nothing():
    init, grads = _problem()
    params = _tn_params(init)
    opt = optim.NAdam(params)
    _steps(params, opt, grads[:2], tn)
    sd = opt.state_dict()
    bad = {**sd, "state": {**sd["state"], 1: {**sd["state"][1], "mu_product": float("nan")}}}
    before = opt.state[params[1]]["mu_product"]
    with pytest.raises(ValueError, match="mu_product.*finite number"):
        opt.load_state_dict(bad)
    assert opt.state[params[1]]["mu_product"] == before
    a = optim.ASGD(params)
    _steps(params, a, grads[:1], tn)
    sd = a.state_dict()
    del sd["state"][0]["ax"]
    with pytest.raises(ValueError, match="ASGD expects"):
        a.load_state_dict(sd)
    # NAdam's decoupled flag is a plain hyper-parameter: loading True into a False group is fine
    src = optim.NAdam(_tn_params(init), weight_decay=0.1, decoupled_weight_decay=True)
    opt = optim.NAdam(_tn_params(init))
    opt.load_state_dict(src.state_dict())
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_asgd_ax_is_the_average_of_the_iterates():
    """After t0 the ``ax`` state is the running mean of the parameters since t0."""
    init, grads = _problem()
    params = _tn_params(init[:1])
    opt = optim.ASGD(params, lr=0.1, t0=4)
    iterates = []
    for t in range(STEPS):
        _steps(params, opt, [grads[t][:1]], tn)
        iterates.append(params[0].detach().numpy().copy())
    # mu = 1/max(1, t - t0), set at step t, weighs step t+1's iterate: until step t0 + 2 ax is the
    # last iterate, from then on the mean of the iterates since step t0 + 2 (iterates[t0 + 1:])
    np.testing.assert_allclose(opt.state[params[0]]["ax"].numpy(), np.mean(iterates[5:], axis=0), rtol=1e-12)
    assert opt.state[params[0]]["mu"] == 1 / (STEPS - 4)


@pytest.mark.parametrize("name,kwargs", [c for i, c in enumerate(CASES) if i % 2], ids=IDS[1::2])
def test_cuda_steps_match_cpu(name, kwargs):
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")
    init, grads = _problem()
    cpu, cuda = _tn_params(init), _tn_params(init, device="cuda")
    o_cpu, o_cuda = getattr(optim, name)(cpu, **kwargs), getattr(optim, name)(cuda, **kwargs)
    _steps(cpu, o_cpu, grads[:3], tn)
    _steps(cuda, o_cuda, grads[:3], tn)
    for p in cuda:
        assert p.device.type == "cuda"
    for s in o_cuda.state.values():
        for v in s.values():
            if isinstance(v, tn.Tensor):
                assert v.device.type == "cuda"
    for a, b in zip(_values(cuda), _values(cpu)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# --- constructor checks: the optimizer and the argument are named --------------------------------
BAD = [
    ("Adadelta", dict(lr=-1), "Adadelta: Invalid learning rate: -1"),
    ("Adadelta", dict(rho=1.5), "Adadelta: Invalid rho value: 1.5"),
    ("Adadelta", dict(rho=-0.1), "Adadelta: Invalid rho value: -0.1"),
    ("Adadelta", dict(eps=-1e-6), "Adadelta: Invalid epsilon value"),
    ("Adadelta", dict(weight_decay=-1), "Adadelta: Invalid weight_decay value: -1"),
    ("Adamax", dict(betas=(1.0, 0.9)), "Adamax: Invalid beta parameter at index 0: 1.0"),
    ("Adamax", dict(betas=(0.9, -0.1)), "Adamax: Invalid beta parameter at index 1"),
    ("Adamax", dict(eps=float("nan")), "Adamax: Invalid epsilon value: nan"),
    ("NAdam", dict(momentum_decay=-1.0), "NAdam: Invalid momentum_decay value: -1.0"),
    ("NAdam", dict(betas=(0.9, 1.0)), "NAdam: Invalid beta parameter at index 1"),
    ("NAdam", dict(weight_decay=-0.5), "NAdam: Invalid weight_decay value"),
    ("RAdam", dict(lr=float("inf")), "RAdam: Invalid learning rate: inf"),
    ("RAdam", dict(eps=-1.0), "RAdam: Invalid epsilon value"),
    ("ASGD", dict(lambd=-1.0), "ASGD: Invalid lambd value: -1.0"),
    ("ASGD", dict(alpha=-1.0), "ASGD: Invalid alpha value"),
    ("ASGD", dict(t0=float("nan")), "ASGD: Invalid t0 value"),
    ("ASGD", dict(weight_decay=-1), "ASGD: Invalid weight_decay value"),
    ("LBFGS", dict(lr=-1), "LBFGS: Invalid learning rate"),
    ("LBFGS", dict(max_iter=0), "LBFGS: Invalid max_iter value: 0"),
    ("LBFGS", dict(max_eval=2.5), "LBFGS: Invalid max_eval value: 2.5"),
    ("LBFGS", dict(history_size=0), "LBFGS: Invalid history_size value"),
    ("LBFGS", dict(tolerance_grad=-1.0), "LBFGS: Invalid tolerance_grad value"),
    ("LBFGS", dict(tolerance_change=float("nan")), "LBFGS: Invalid tolerance_change value"),
    ("LBFGS", dict(line_search_fn="armijo"), "LBFGS: Invalid line_search_fn value: 'armijo'"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_arguments_are_refused(name, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(optim, name)(_tn_params(_problem()[0]), **kwargs)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"])
def test_bad_switches_and_types(name):
    params = _tn_params(_problem()[0])
    with pytest.raises(ValueError, match=f"{name}: foreach=True is not supported"):
        getattr(optim, name)(params, foreach=True)
    with pytest.raises(ValueError, match=f"{name}: differentiable=True"):
        getattr(optim, name)(params, differentiable=True)
    with pytest.raises(ValueError, match=f"{name}: capturable=True"):
        getattr(optim, name)(params, capturable=True)
    with pytest.raises(TypeError, match=f"{name}: maximize must be True or False"):
        getattr(optim, name)(params, maximize="yes")
    with pytest.raises(TypeError, match=f"{name}: lr must be a number"):
        getattr(optim, name)(params, lr="0.1")
    with pytest.raises(ValueError, match=f"{name}: .*Invalid learning rate"):  # a group's own value too
        getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": -2.0}])
    if name in ("NAdam", "RAdam"):
        with pytest.raises(TypeError, match=f"{name}: decoupled_weight_decay must be True or False"):
            getattr(optim, name)(params, decoupled_weight_decay=1)
    if name in ("Adamax", "NAdam", "RAdam"):
        with pytest.raises(TypeError, match=f"{name}: betas must be a pair"):
            getattr(optim, name)(params, betas=0.9)


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "LBFGS"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_signature_is_pytorchs(name):
    """Argument names, order, kind (positional or keyword-only) and defaults equal torch's."""
    ours = list(inspect.signature(getattr(optim, name).__init__).parameters.values())
    theirs = list(inspect.signature(getattr(torch.optim, name).__init__).parameters.values())
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in theirs]
    for a, b in zip(ours, theirs):
        if b.default is not inspect.Parameter.empty:
            assert a.default == b.default, (name, a.name, a.default, b.default)


def test_rmsprop_positional_arguments_are_pytorchs():
    """RMSprop(params, lr, alpha, eps, weight_decay, momentum, centered, capturable, foreach, maximize)."""
    init, grads = _problem()
    params = _tn_params(init)
    opt = optim.RMSprop(params, 0.01, 0.9, 1e-8, 0.1, 0.5, True, False, None, True)
    assert opt.param_groups[0]["maximize"] is True and opt.param_groups[0]["centered"] is True
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = torch.optim.RMSprop(tparams, 0.01, 0.9, 1e-8, 0.1, 0.5, True, False, None, True)
    _steps(params, opt, grads, tn)
    _steps(tparams, topt, grads, torch)
    for a, b in zip(_values(params), _values(tparams)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


EXISTING = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.3, weight_decay=0.1, eps=1e-8, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", EXISTING, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXISTING)])
def test_existing_optimizers_honour_every_option(name, kwargs):
    init, grads = _problem()
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    params = _tn_params(init)
    opt = getattr(optim, name)(params, **kwargs)
    _steps(params, opt, grads, tn)
    _steps(tparams, topt, grads, torch)
    for a, b in zip(_values(params), _values(tparams)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)


# --- LBFGS ---------------------------------------------------------------------------------
def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _rosenbrock_and_grad(x):
    """f and ∇f in NumPy: both libraries' closures get bit-identical numbers, so what is
    compared is the L-BFGS algorithm alone (Rosenbrock's valley amplifies any rounding)."""
    a, b = x
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2, np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


def _lbfgs_pair(kwargs, x0):
    tx = torch.tensor(x0, requires_grad=True)
    mx = nn.Parameter(tn.tensor(x0, dtype=tn.float64))
    topt, opt = torch.optim.LBFGS([tx], **kwargs), optim.LBFGS([mx], **kwargs)

    def tclosure():
        f, g = _rosenbrock_and_grad(tx.detach().numpy())
        tx.grad = torch.tensor(g)
        return torch.tensor(f)

    def closure():
        assert tn.is_grad_enabled()  # the closure runs with gradients on, as in PyTorch
        f, g = _rosenbrock_and_grad(mx.detach().numpy())
        mx.grad = tn.tensor(g)
        return tn.tensor(f)

    return (tx, topt, tclosure), (mx, opt, closure)


@pytest.mark.parametrize("dtype", [tn.float64, tn.float32])
def test_lbfgs_closure_with_autograd_minimises_rosenbrock(dtype):
    x = nn.Parameter(tn.tensor([-1.5, 2.0], dtype=dtype))
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(10):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-5)
    assert x.dtype == dtype and opt.state[x]["d"].dtype == dtype and opt.state[x]["old_dirs"][0].dtype == dtype


# (options, steps): the fixed-step runs are chaotic on Rosenbrock (the last-bit differences of
# torch's fused multiply-adds grow ~1000x per step), so the defaults are compared for 2 steps
LBFGS_CASES = [
    ({}, 2),
    (dict(line_search_fn="strong_wolfe"), 6),
    (dict(lr=0.5, max_iter=7, history_size=3), 6),
    (dict(line_search_fn="strong_wolfe", max_iter=5, history_size=2, max_eval=9), 6),
    (dict(line_search_fn="strong_wolfe", tolerance_grad=1e-3, tolerance_change=1e-4), 6),
    (dict(max_iter=1, history_size=1), 6),
]


@pytest.mark.parametrize("kwargs,steps", LBFGS_CASES, ids=[str(i) for i in range(len(LBFGS_CASES))])
def test_lbfgs_rosenbrock_matches_torch(kwargs, steps, f64):
    (tx, topt, tclosure), (mx, opt, closure) = _lbfgs_pair(kwargs, np.array([-1.5, 2.0]))
    for i in range(steps):
        tloss, loss = topt.step(tclosure), opt.step(closure)
        assert isinstance(loss, tn.Tensor)
        np.testing.assert_allclose(float(loss), tloss.item(), rtol=1e-7, atol=1e-10, err_msg=f"step {i}")
        np.testing.assert_allclose(mx.detach().numpy(), tx.detach().numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=f"step {i}")
        for k in ("func_evals", "n_iter"):
            assert opt.state[mx][k] == topt.state[tx][k], (i, k)
    for k in ("d", "prev_flat_grad"):
        np.testing.assert_allclose(opt.state[mx][k].numpy(), topt.state[tx][k].numpy(), rtol=1e-6, atol=1e-10)
    assert len(opt.state[mx]["old_dirs"]) == len(topt.state[tx]["old_dirs"])


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_logistic_regression_matches_torch(line_search_fn, f64):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(20) > 0).astype(np.float64)
    w0, b0 = 0.1 * rng.standard_normal((1, 3)), np.zeros(1)
    tmodel, model = torch.nn.Linear(3, 1), nn.Linear(3, 1, dtype=tn.float64)
    with torch.no_grad():
        tmodel.weight.copy_(torch.tensor(w0))
        tmodel.bias.copy_(torch.tensor(b0))
    model.weight.array[...] = w0
    model.bias.array[...] = b0
    tX, tY, mX, mY = torch.tensor(X), torch.tensor(y[:, None]), tn.tensor(X), tn.tensor(y[:, None])
    topt = torch.optim.LBFGS(tmodel.parameters(), lr=1, max_iter=10, history_size=5, line_search_fn=line_search_fn)
    opt = optim.LBFGS(model.parameters(), lr=1, max_iter=10, history_size=5, line_search_fn=line_search_fn)

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(tmodel(tX), tY) + 0.01 * (tmodel.weight ** 2).sum()
        loss.backward()
        return loss

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(mX), mY) + 0.01 * (model.weight ** 2).sum()
        loss.backward()
        return loss

    for i in range(4):
        np.testing.assert_allclose(float(opt.step(closure)), topt.step(tclosure).item(), rtol=1e-8, err_msg=str(i))
        np.testing.assert_allclose(model.weight.detach().numpy(), tmodel.weight.detach().numpy(), rtol=1e-7,
                                   atol=1e-9)
        np.testing.assert_allclose(model.bias.detach().numpy(), tmodel.bias.detach().numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kwargs", [dict(max_iter=4, history_size=3),
                                    dict(max_iter=4, history_size=3, line_search_fn="strong_wolfe")])
def test_lbfgs_state_dict_both_ways_mid_run(kwargs, f64):
    x0 = np.array([-1.5, 2.0])
    (tx, topt, tclosure), _ = _lbfgs_pair(kwargs, x0)
    for _ in range(5):
        topt.step(tclosure)
    expected = tx.detach().numpy().copy()
    # torch (2 steps) -> tinynet (3 steps)
    (tx, topt, tclosure), (mx, opt, closure) = _lbfgs_pair(kwargs, x0)
    for _ in range(2):
        topt.step(tclosure)
    mx.array[...] = tx.detach().numpy()
    opt.load_state_dict(to_tinynet(topt.state_dict()))
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(mx.detach().numpy(), expected, rtol=1e-7, atol=1e-10)
    # tinynet (2 steps) -> torch (3 steps), and tinynet -> tinynet
    (tx, topt, tclosure), (mx, opt, closure) = _lbfgs_pair(kwargs, x0)
    for _ in range(2):
        opt.step(closure)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == set(topt.state_dict()["state"].get(0, sd["state"][0]))
    with torch.no_grad():
        tx.copy_(torch.tensor(mx.detach().numpy()))
    topt.load_state_dict(to_torch(sd))
    for _ in range(3):
        topt.step(tclosure)
    np.testing.assert_allclose(tx.detach().numpy(), expected, rtol=1e-7, atol=1e-10)
    (_, _, _), (mx2, opt2, closure2) = _lbfgs_pair(kwargs, mx.detach().numpy())
    opt2.load_state_dict(sd)
    for _ in range(3):
        opt2.step(closure2)
    np.testing.assert_allclose(mx2.detach().numpy(), expected, rtol=1e-7, atol=1e-10)


def test_lbfgs_state_dict_errors():
    (_, _, _), (mx, opt, closure) = _lbfgs_pair({}, np.array([-1.5, 2.0]))
    opt.step(closure)
    sd = opt.state_dict()
    bad = {**sd, "state": {0: {**sd["state"][0], "d": tn.zeros(5)}}}
    with pytest.raises(ValueError, match="'d' must be a flat floating vector of the parameters' total size 2"):
        opt.load_state_dict(bad)
    bad = {**sd, "state": {0: {**sd["state"][0], "ro": [1.0, 2.0]}}}
    with pytest.raises(ValueError, match="must have one length"):
        opt.load_state_dict(bad)
    bad = {**sd, "state": {0: {**sd["state"][0], "momentum": 1.0}}}
    with pytest.raises(ValueError, match="unexpected keys \\['momentum'\\]"):
        opt.load_state_dict(bad)
    bad = {**sd, "state": {0: {**sd["state"][0], "t": float("inf")}}}
    with pytest.raises(ValueError, match="'t' must be a finite number"):
        opt.load_state_dict(bad)


def test_lbfgs_needs_a_closure_and_one_group():
    p, q = nn.Parameter(tn.zeros(2)), nn.Parameter(tn.zeros(3))
    opt = optim.LBFGS([p])
    with pytest.raises(TypeError, match="LBFGS.step\\(\\) needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [q], "lr": 0.1}])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        opt.add_param_group({"params": [q]})
    with pytest.raises(TypeError, match="LBFGS: all parameters must have one dtype"):
        optim.LBFGS([p, nn.Parameter(tn.zeros(2, dtype=tn.float64))])
    assert optim.LBFGS([p], max_iter=8).param_groups[0]["max_eval"] == 10  # max_iter * 5 // 4


def test_lbfgs_stops_at_an_optimum_and_counts_evaluations():
    x = nn.Parameter(tn.tensor([1.0, 1.0], dtype=tn.float64))
    opt = optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert len(calls) == 1 and opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 1.0])


def test_lbfgs_on_cuda_matches_cpu():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")
    out = []
    for device in ("cpu", "cuda"):
        x = nn.Parameter(tn.tensor([-1.5, 2.0], dtype=tn.float64, device=device))
        opt = optim.LBFGS([x], max_iter=5, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = _rosenbrock(x)
            loss.backward()
            return loss

        opt.step(closure)
        assert x.device.type == device and opt.state[x]["d"].device.type == device
        out.append(x.detach().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


def test_state_dicts_survive_tn_save(tmp_path):
    """The new state layouts (numbers, 0-d-free lists of tensors, None in LBFGS's ``al``) are
    plain data that ``tn.save``/``tn.load`` carry, and load back."""
    init, grads = _problem()
    for name in ("Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"):
        params = _tn_params(init)
        opt = getattr(optim, name)(params)
        _steps(params, opt, grads[:3], tn)
        tn.save(opt.state_dict(), tmp_path / f"{name}.tn")
        opt2 = getattr(optim, name)(_tn_params(init))
        opt2.load_state_dict(tn.load(tmp_path / f"{name}.tn"))
        for k, v in opt.state[params[0]].items():
            got = opt2.state[opt2.param_groups[0]["params"][0]][k]
            assert (got.numpy() == v.numpy()).all() if isinstance(v, tn.Tensor) else got == v, (name, k)
    (_, _, _), (mx, opt, closure) = _lbfgs_pair(dict(history_size=30, max_iter=3), np.array([-1.5, 2.0]))
    opt.step(closure)
    opt.step(closure)
    assert None in opt.state[mx]["al"]
    tn.save(opt.state_dict(), tmp_path / "lbfgs.tn")
    (_, _, _), (mx2, opt2, closure2) = _lbfgs_pair(dict(history_size=30, max_iter=3), mx.detach().numpy())
    opt2.load_state_dict(tn.load(tmp_path / "lbfgs.tn"))
    assert opt2.state[mx2]["n_iter"] == opt.state[mx]["n_iter"]
    opt.step(closure)
    opt2.step(closure2)
    np.testing.assert_array_equal(mx2.detach().numpy(), mx.detach().numpy())
