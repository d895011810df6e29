"""Optimizers: step-by-step against NumPy reference formulas and against torch.optim.

Gradients are fed directly (``p.grad = ...``, a fixed random sequence), so the checks
test the update rules alone. Every option (momentum, dampening, nesterov, weight decay,
amsgrad, centered, lr_decay, maximize) is exercised on cpu and on (simulated) cuda.
"""

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.optim as optim

SHAPES = [(3, 4), (4,)]
STEPS = 5


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _run_tinynet(cls, kwargs, device="cpu", dtype=tn.float64, seed=0, steps=STEPS):
    init, grads = _problem(seed)
    params = [nn.Parameter(tn.tensor(a, dtype=dtype, device=device)) for a in init]
    opt = cls(params, **kwargs)
    for t in range(steps):
        for p, g in zip(params, grads[t]):
            p.grad = tn.tensor(g, dtype=dtype, device=device)
        opt.step()
    return [p.detach().numpy().astype(np.float64) for p in params], opt


# --- NumPy references, written from the published update rules ---------------------------------
def sgd_ref(params, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    params = [p.copy() for p in params]
    bufs = [None] * len(params)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            g = -g if maximize else g.copy()
            g = g + weight_decay * params[i]
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lr * g
    return params


def adam_ref(params, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False, maximize=False):
    b1, b2 = betas
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    vmax = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        for i, g in enumerate(step_grads):
            g = -g if maximize else g
            if decoupled:
                params[i] = params[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1 ** t)
            if amsgrad:
                vmax[i] = np.maximum(vmax[i], v[i])
                vhat = vmax[i] / (1 - b2 ** t)
            else:
                vhat = v[i] / (1 - b2 ** t)
            params[i] = params[i] - lr * mhat / (np.sqrt(vhat) + eps)
    return params


def rmsprop_ref(params, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    params = [p.copy() for p in params]
    s = [np.zeros_like(p) for p in params]
    gbar = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            g = (-g if maximize else g) + weight_decay * params[i]
            s[i] = alpha * s[i] + (1 - alpha) * g * g
            if centered:
                gbar[i] = alpha * gbar[i] + (1 - alpha) * g
                denom = np.sqrt(s[i] - gbar[i] ** 2) + eps
            else:
                denom = np.sqrt(s[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / denom
                params[i] = params[i] - lr * buf[i]
            else:
                params[i] = params[i] - lr * g / denom
    return params


def adagrad_ref(params, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                maximize=False):
    params = [p.copy() for p in params]
    acc = [np.full_like(p, initial_accumulator_value) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        clr = lr / (1 + (t - 1) * lr_decay)
        for i, g in enumerate(step_grads):
            g = (-g if maximize else g) + weight_decay * params[i]
            acc[i] = acc[i] + g * g
            params[i] = params[i] - clr * g / (np.sqrt(acc[i]) + eps)
    return params


CASES = [
    ("SGD", optim.SGD, sgd_ref, dict(lr=0.1)),
    ("SGD_momentum", optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9)),
    ("SGD_dampening", optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD_nesterov_wd", optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD_maximize", optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", optim.Adam, adam_ref, dict(lr=0.01)),
    ("Adam_wd_betas", optim.Adam, adam_ref, dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1, eps=1e-6)),
    ("Adam_amsgrad", optim.Adam, adam_ref, dict(lr=0.05, amsgrad=True)),
    ("Adam_maximize", optim.Adam, adam_ref, dict(lr=0.01, maximize=True)),
    ("AdamW", optim.AdamW, lambda p, g, **k: adam_ref(p, g, decoupled=True, **{"weight_decay": 1e-2, **k}),
     dict(lr=0.01)),
    ("AdamW_amsgrad", optim.AdamW, lambda p, g, **k: adam_ref(p, g, decoupled=True, **k),
     dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", optim.RMSprop, rmsprop_ref, dict(lr=0.01)),
    ("RMSprop_centered_momentum", optim.RMSprop, rmsprop_ref,
     dict(lr=0.01, alpha=0.9, momentum=0.7, centered=True, weight_decay=0.05)),
    ("RMSprop_momentum", optim.RMSprop, rmsprop_ref, dict(lr=0.01, momentum=0.9)),
    ("Adagrad", optim.Adagrad, adagrad_ref, dict(lr=0.1)),
    ("Adagrad_all", optim.Adagrad, adagrad_ref,
     dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)),
    ("Adagrad_maximize", optim.Adagrad, adagrad_ref, dict(lr=0.1, maximize=True)),
]


@pytest.mark.parametrize("name,cls,ref,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy_reference(name, cls, ref, kwargs, device):
    got, _ = _run_tinynet(cls, kwargs, device)
    init, grads = _problem()
    expected = ref(init, grads, **kwargs)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name,cls,ref,kwargs", CASES, ids=[c[0] for c in CASES])
def test_float32_close_to_float64(name, cls, ref, kwargs):
    got32, _ = _run_tinynet(cls, kwargs, "cpu", dtype=tn.float32)
    init, grads = _problem()
    expected = ref(init, grads, **kwargs)
    for g, e in zip(got32, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name,cls,ref,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, cls, ref, kwargs):
    torch = pytest.importorskip("torch")
    init, grads = _problem()
    tparams = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    topt = getattr(torch.optim, cls.__name__)(tparams, **kwargs)
    for t in range(STEPS):
        for p, g in zip(tparams, grads[t]):
            p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    got, _ = _run_tinynet(cls, kwargs)
    for g, tp in zip(got, tparams):
        np.testing.assert_allclose(g, tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_training_a_model_matches_torch():
    """A whole loop (forward, loss, backward, Adam step) tracks torch for 20 steps."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 3))
    y = np.sin(x.sum(axis=1, keepdims=True))
    w1, b1 = rng.standard_normal((8, 3)) * 0.5, rng.standard_normal(8) * 0.1
    w2, b2 = rng.standard_normal((1, 8)) * 0.5, rng.standard_normal(1) * 0.1

    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    for p, v in zip(model.parameters(), (w1, b1, w2, b2)):
        p.array[...] = v
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for p, v in zip(tmodel.parameters(), (w1, b1, w2, b2)):
            p.copy_(torch.tensor(v))
    opt = optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01, weight_decay=1e-3)
    xt, yt = tn.tensor(x, dtype=tn.float64), tn.tensor(y, dtype=tn.float64)
    for _ in range(20):
        opt.zero_grad()
        loss = ((model(xt) - yt) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = ((tmodel(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-9
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-11)


# --- behaviour ---------------------------------------------------------------------------------
def test_param_groups_use_their_own_hyperparameters():
    init, grads = _problem()
    a = nn.Parameter(tn.tensor(init[0], dtype=tn.float64))
    b = nn.Parameter(tn.tensor(init[1], dtype=tn.float64))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5
    for t in range(STEPS):
        a.grad = tn.tensor(grads[t][0], dtype=tn.float64)
        b.grad = tn.tensor(grads[t][1], dtype=tn.float64)
        opt.step()
    ea = sgd_ref([init[0]], [[g[0]] for g in grads], lr=0.1)[0]
    eb = sgd_ref([init[1]], [[g[1]] for g in grads], lr=0.5, momentum=0.9)[0]
    np.testing.assert_allclose(a.detach().numpy(), ea, rtol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), eb, rtol=1e-12)


def test_add_param_group_and_duplicates():
    a, b = nn.Parameter(tn.zeros(2)), nn.Parameter(tn.zeros(3))
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, a], lr=0.1)


def test_bad_arguments():
    p = nn.Parameter(tn.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="invalid lr"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating"):
        optim.SGD([tn.zeros(2, dtype=tn.int64)], lr=0.1)


def test_zero_grad_set_to_none_and_zeros():
    p = nn.Parameter(tn.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = tn.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and np.all(p.grad.numpy() == 0)
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # a parameter without gradient is skipped
    assert np.all(p.detach().numpy() == 1)


def test_step_bumps_version_and_keeps_identity():
    p = nn.Parameter(tn.ones(3))
    data_before = p.array
    opt = optim.Adam([p], lr=0.1)
    p.grad = tn.ones(3)
    v = p._version[0]
    opt.step()
    assert p._version[0] == v + 1
    assert p.array is data_before  # updated in place


def test_step_catches_use_of_saved_value():
    """Updating a weight that a live graph saved is caught at backward time."""
    w = nn.Parameter(tn.ones(3))
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    w.grad = tn.ones(3)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_closure_is_called():
    p = nn.Parameter(tn.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert abs(loss.item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)


@pytest.mark.parametrize("name,cls,ref,kwargs", [c for c in CASES if c[0] in
                                                  ("SGD_momentum", "Adam_amsgrad", "RMSprop_centered_momentum",
                                                   "Adagrad_all", "AdamW")], ids=lambda c: str(c)[:20])
def test_state_dict_round_trip_resumes_identically(name, cls, ref, kwargs):
    full, _ = _run_tinynet(cls, kwargs, steps=STEPS)
    # Run 2 steps, save, rebuild everything fresh, load, run the remaining steps.
    init, grads = _problem()
    params = [nn.Parameter(tn.tensor(a, dtype=tn.float64)) for a in init]
    opt = cls(params, **kwargs)
    for t in range(2):
        for p, g in zip(params, grads[t]):
            p.grad = tn.tensor(g, dtype=tn.float64)
        opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"} and sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    saved_params = [p.detach().numpy().copy() for p in params]
    # Plain data only: tensors, numbers, strings, tuples, lists, dicts.
    for s in sd["state"].values():
        for v in s.values():
            assert isinstance(v, (tn.Tensor, int, float))
    params2 = [nn.Parameter(tn.tensor(a, dtype=tn.float64)) for a in saved_params]
    opt2 = cls(params2, **{**kwargs, "lr": 123.0})  # hyperparameters come from the state dict
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for t in range(2, STEPS):
        for p, g in zip(params2, grads[t]):
            p.grad = tn.tensor(g, dtype=tn.float64)
        opt2.step()
    for a, b in zip(params2, full):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12, atol=1e-14)
    # The loaded state is a copy: stepping opt2 did not change the saved dict's tensors.
    key = next(k for k in sd["state"][0] if k != "step")
    assert not np.allclose(sd["state"][0][key].numpy(), opt2.state[params2[0]][key].numpy())


def test_load_state_dict_errors_change_nothing():
    p, q = nn.Parameter(tn.zeros(2)), nn.Parameter(tn.zeros(3))
    opt = optim.Adam([p, q], lr=0.1)
    p.grad, q.grad = tn.ones(2), tn.ones(3)
    opt.step()
    sd = opt.state_dict()
    other = optim.Adam([nn.Parameter(tn.zeros(2))], lr=0.5)
    with pytest.raises(ValueError, match="2 parameter"):
        other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.5 and not other.state
    bad = optim.Adam([nn.Parameter(tn.zeros(2)), nn.Parameter(tn.zeros(4))], lr=0.5)
    with pytest.raises(ValueError, match=r"shape \(3,\), parameter has \(4,\)"):
        bad.load_state_dict(sd)
    assert bad.param_groups[0]["lr"] == 0.5 and not bad.state
    with pytest.raises(ValueError, match="1 parameter group"):
        optim.Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(sd)


def test_optimizer_follows_module_to_dtype():
    """model.to(dtype) keeps parameter identity, so an optimizer built before still works."""
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(tn.randn(4, 3)).sum().backward()
    opt.step()
    model.double()
    assert model.weight.dtype == tn.float64
    model.zero_grad()
    model(tn.randn(4, 3, dtype=tn.float64)).sum().backward()
    before = model.weight.detach().numpy().copy()
    opt.step()
    assert not np.allclose(before, model.weight.detach().numpy())
    assert opt.state[model.weight]["exp_avg"].dtype == tn.float64


def test_repr():
    opt = optim.SGD([nn.Parameter(tn.zeros(2))], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# --- the fused kernels: cpu vs cuda (simulated), several blocks and a partial last one ----------
@pytest.mark.parametrize("kernel", ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step", "adadelta_step"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_and_cuda_kernels_agree(kernel, dtype):
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")
    cpu = tn.device("cpu").kernels
    cuda = tn.device("cuda").kernels
    n = 300  # three blocks of 128 threads, the last one partial
    rng = np.random.default_rng(3)

    def arrays(k):
        return [rng.standard_normal(n).astype(dtype) for _ in range(k)]

    def abs_(a):
        return np.abs(a)

    if kernel == "sgd_step":
        base = arrays(3)
        args = lambda arrs: (*arrs, 0.1, 0.9, 0.1, 0.01, True, False, False)  # noqa: E731
    elif kernel == "adam_step":
        p, g, m, v, vm = arrays(5)
        base = [p, g, m, abs_(v), abs_(v) + abs_(vm)]
        args = lambda arrs: (*arrs, 1e-2, 0.9, 0.999, 1e-8, 0.01, 3, True, True, False)  # noqa: E731
    elif kernel == "rmsprop_step":
        p, g, s, ga, b = arrays(5)
        base = [p, g, abs_(s) + 1.0, ga * 0.1, b]
        args = lambda arrs: (*arrs, 1e-2, 0.99, 1e-8, 0.01, 0.9, True, True)  # noqa: E731
    elif kernel == "adadelta_step":
        p, g, v, u = arrays(4)
        base = [p, g, abs_(v), abs_(u)]
        args = lambda arrs: (*arrs, 1.0, 0.9, 1e-6, 0.01, True)  # noqa: E731
    else:
        p, g, s = arrays(3)
        base = [p, g, abs_(s)]
        args = lambda arrs: (*arrs, 0.1, 0.01, 1e-10, 0.01, 4, False)  # noqa: E731
    a = [x.copy() for x in base]
    b = [tn.device("cuda").from_host(x.copy()) for x in base]
    getattr(cpu, kernel)(*args(a))
    getattr(cuda, kernel)(*args(b))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for x, y, orig in zip(a, b, base):
        np.testing.assert_allclose(x, tn.device("cuda").to_host(y), rtol=tol, atol=tol)
    assert not np.allclose(a[0], base[0])  # the parameter did move


def test_parallel_kernel_path_matches_serial(monkeypatch):
    """Arrays above the parallel threshold take the prange variant: same numbers as serial."""
    from tinynet.kernels.cpu import optim as k

    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS

    n = CPU_PARALLEL_MIN_ELEMENTS["optim"] + 5
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(n), rng.standard_normal(n)
    m, v = np.zeros(n), np.zeros(n)
    p2, m2, v2 = p.copy(), m.copy(), v.copy()
    k.adam_step(p, g, m, v, np.empty(0), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False, False)
    monkeypatch.setitem(CPU_PARALLEL_MIN_ELEMENTS, "optim", 1 << 62)
    k.adam_step(p2, g, m2, v2, np.empty(0), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False, False)
    np.testing.assert_allclose(p, p2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v, v2, rtol=1e-12, atol=1e-15)
    assert not np.allclose(p, rng.standard_normal(n))


# --- gradient clipping -----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    init, grads = _problem()
    params = [nn.Parameter(tn.tensor(a, dtype=tn.float64)) for a in init]
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    for p, tp, g in zip(params, tparams, grads[0]):
        p.grad = tn.tensor(g, dtype=tn.float64)
        tp.grad = torch.tensor(g)
    total = nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    assert abs(total.item() - ttotal.item()) < 1e-10
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_formula_and_value():
    p = nn.Parameter(tn.zeros(2, dtype=tn.float64))
    p.grad = tn.tensor([3.0, 4.0], dtype=tn.float64)
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert abs(total.item() - 5.0) < 1e-12
    np.testing.assert_allclose(p.grad.numpy(), np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-12)
    q = nn.Parameter(tn.zeros(3))
    q.grad = tn.tensor([-2.0, 0.5, 3.0])
    nn.utils.clip_grad_value_([q], 1.0)
    np.testing.assert_allclose(q.grad.numpy(), [-1.0, 0.5, 1.0])
    q.grad = tn.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non"):
        nn.utils.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_round_trip():
    model = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (8,)
    nn.utils.vector_to_parameters(vec * 2, model.parameters())
    np.testing.assert_allclose(nn.utils.parameters_to_vector(model.parameters()).detach().numpy(), vec.detach().numpy() * 2)
