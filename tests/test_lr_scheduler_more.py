"""LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts,
CyclicLR, OneCycleLR and ChainedScheduler (and SequentialLR, ReduceLROnPlateau, MultiStepLR)
against torch.optim.lr_scheduler.

Each schedule runs 40 steps on an optimizer with two parameter groups, in both libraries;
the lrs (and, for the cycling schedules, the momentum or Adam's beta1) after every step must
be torch's. Each run is repeated with a state-dict round trip in the middle: the optimizer's
and the scheduler's state dicts are saved, a fresh optimizer and scheduler are built
(with other hyper-parameters), the states are loaded, and the run goes on -- same numbers.
"""
import copy
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.optim as optim
import tinynet.optim.lr_scheduler as S

torch = pytest.importorskip("torch")

STEPS = 40


class Warmup:
    """A callable object with state, which a state dict carries (a lambda's is not saved)."""

    def __init__(self, warm):
        self.warm = warm

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.warm)


def _optimizer(lib, kind, lr=0.1):
    """``kind`` ("SGD", "Adam", "Adagrad") with two parameter groups (lr and 3·lr)."""
    if lib is torch:
        make, p, q = getattr(torch.optim, kind), torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    else:
        make, p, q = getattr(optim, kind), tn.zeros(2, requires_grad=True), tn.zeros(2, requires_grad=True)
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    return make([{"params": [p]}, {"params": [q], "lr": lr * 3}], lr=lr, **extra)


def _record(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["lr"])
        out.append(g["betas"][0] if "betas" in g else g.get("momentum", 0.0))
    return out


def _run(lib, make, kind, resume_at=None, steps=STEPS):
    M = torch.optim.lr_scheduler if lib is torch else S
    opt = _optimizer(lib, kind)
    sched = make(M, opt)
    seq = [_record(opt)]
    for t in range(steps):
        if t == resume_at:
            opt_sd, sched_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
            opt = _optimizer(lib, kind, lr=0.77)  # another lr: everything must come from the state dicts
            sched = make(M, opt)
            opt.load_state_dict(opt_sd)
            sched.load_state_dict(sched_sd)
        opt.step()
        sched.step()
        seq.append(_record(opt))
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    return np.array(seq, dtype=np.float64)


SPECS = [
    ("LambdaLR", lambda M, o: M.LambdaLR(o, lambda e: 0.95 ** e), "SGD"),
    ("LambdaLR-list", lambda M, o: M.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)]), "SGD"),
    ("LambdaLR-object", lambda M, o: M.LambdaLR(o, Warmup(7)), "Adam"),
    ("MultiplicativeLR", lambda M, o: M.MultiplicativeLR(o, lambda e: 0.9), "SGD"),
    ("MultiplicativeLR-list", lambda M, o: M.MultiplicativeLR(o, [lambda e: 0.95, lambda e: 1.0 - 0.01 * e]), "SGD"),
    ("MultiStepLR", lambda M, o: M.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.5), "SGD"),
    ("ConstantLR", lambda M, o: M.ConstantLR(o), "SGD"),
    ("ConstantLR-args", lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=12), "SGD"),
    ("PolynomialLR", lambda M, o: M.PolynomialLR(o), "SGD"),
    ("PolynomialLR-args", lambda M, o: M.PolynomialLR(o, total_iters=25, power=2.0), "SGD"),
    ("CosineAnnealingWarmRestarts", lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=5), "SGD"),
    ("CosineAnnealingWarmRestarts-mult",
     lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), "SGD"),
    ("CyclicLR", lambda M, o: M.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    ("CyclicLR-triangular2", lambda M, o: M.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3,
                                                      step_size_down=5, mode="triangular2"), "SGD"),
    ("CyclicLR-exp_range-Adam", lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=5, mode="exp_range",
                                                         gamma=0.95, base_momentum=0.85, max_momentum=0.95), "Adam"),
    ("CyclicLR-scale_fn", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 0.9 ** x,
                                                   scale_mode="iterations"), "SGD"),
    ("CyclicLR-object-scale_fn", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=4, scale_fn=Warmup(9),
                                                          scale_mode="iterations"), "SGD"),
    ("CyclicLR-no-momentum", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=6, cycle_momentum=False), "Adagrad"),
    ("OneCycleLR", lambda M, o: M.OneCycleLR(o, max_lr=1.0, total_steps=STEPS), "SGD"),
    ("OneCycleLR-Adam-linear", lambda M, o: M.OneCycleLR(o, max_lr=[0.5, 1.0], epochs=4, steps_per_epoch=10,
                                                          anneal_strategy="linear", pct_start=0.25), "Adam"),
    ("OneCycleLR-three_phase", lambda M, o: M.OneCycleLR(o, max_lr=0.3, total_steps=STEPS, three_phase=True,
                                                          div_factor=10.0, final_div_factor=100.0,
                                                          base_momentum=0.8, max_momentum=0.9), "SGD"),
    ("OneCycleLR-no-momentum", lambda M, o: M.OneCycleLR(o, max_lr=0.2, total_steps=STEPS + 5,
                                                          cycle_momentum=False), "Adagrad"),
    ("ChainedScheduler", lambda M, o: M.ChainedScheduler([M.ConstantLR(o, factor=0.1, total_iters=2),
                                                          M.ExponentialLR(o, gamma=0.9)]), "SGD"),
    ("ChainedScheduler-optimizer", lambda M, o: M.ChainedScheduler([M.MultiStepLR(o, [5, 9], 0.5),
                                                                    M.PolynomialLR(o, 30, 0.5)], optimizer=o), "SGD"),
    ("SequentialLR", lambda M, o: M.SequentialLR(o, [M.ConstantLR(o, factor=0.2, total_iters=3),
                                                     M.ExponentialLR(o, gamma=0.9)], milestones=[5]), "SGD"),
    # a ChainedScheduler first (PyTorch's SequentialLR restarts a later stage with _update_lr(0), which a
    # ChainedScheduler, having no get_lr, cannot do -- in torch as here)
    ("SequentialLR-chained",
     lambda M, o: M.SequentialLR(o, [M.ChainedScheduler([M.ExponentialLR(o, 0.9),
                                                         M.MultiplicativeLR(o, lambda e: 0.99)]),
                                     M.LinearLR(o, 0.1, total_iters=4), M.CosineAnnealingWarmRestarts(o, T_0=4)],
                                 milestones=[6, 20]), "SGD"),
]


@pytest.mark.parametrize("name,make,kind", SPECS, ids=[s[0] for s in SPECS])
def test_matches_torch(name, make, kind):
    theirs = _run(torch, make, kind)
    np.testing.assert_allclose(_run(tn, make, kind), theirs, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("name,make,kind", SPECS, ids=[s[0] for s in SPECS])
def test_state_dict_round_trip_mid_run_matches_torch(name, make, kind):
    theirs = _run(torch, make, kind)
    for resume_at in (1, 13):
        np.testing.assert_allclose(_run(tn, make, kind, resume_at=resume_at), theirs, rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}, resumed at step {resume_at}")


def test_callable_objects_state_is_restored():
    """A callable object's attributes travel in the state dict (as PyTorch); a lambda's do not."""
    opt = _optimizer(tn, "SGD")
    sched = S.LambdaLR(opt, [Warmup(3), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"warm": 3}, None] and sd["scheduler"] == "LambdaLR"
    other = S.LambdaLR(_optimizer(tn, "SGD"), [Warmup(100), lambda e: 1.0])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].warm == 3
    cyc = S.CyclicLR(_optimizer(tn, "SGD"), 0.01, 0.1, scale_fn=Warmup(4))
    assert cyc.state_dict()["_scale_fn_custom"] == {"warm": 4}


def test_cosine_warm_restarts_fractional_epochs_match_torch():
    """``step(epoch + i / iters)`` inside each epoch, PyTorch's documented pattern."""
    def run(lib):
        M = torch.optim.lr_scheduler if lib is torch else S
        opt = _optimizer(lib, "SGD")
        sched = M.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001)
        out = []
        for epoch in range(12):
            for i in range(4):
                opt.step()
                sched.step(epoch + i / 4)
                out.append([g["lr"] for g in opt.param_groups] + [sched.T_cur, sched.T_i, sched.last_epoch])
        sched.step(50)  # a jump
        out.append([g["lr"] for g in opt.param_groups] + [sched.T_cur, sched.T_i, sched.last_epoch])
        return np.array(out, dtype=np.float64)

    np.testing.assert_allclose(run(tn), run(torch), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,make", [
    ("ConstantLR", lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=4)),
    ("PolynomialLR", lambda M, o: M.PolynomialLR(o, total_iters=8, power=1.5)),
])
def test_step_with_epoch_uses_the_closed_form_like_torch(name, make):
    def run(lib):
        M = torch.optim.lr_scheduler if lib is torch else S
        opt = _optimizer(lib, "SGD")
        sched = make(M, opt)
        out = []
        for epoch in (3, 4, 9, 2, 0, 6):
            with pytest.warns(UserWarning) if lib is torch else _nothing():
                sched.step(epoch)
            out.append(sched.get_last_lr())
        return np.array(out)

    np.testing.assert_allclose(run(tn), run(torch), rtol=1e-12, atol=1e-15)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_reduce_lr_on_plateau_matches_torch_with_round_trip():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4] * 3

    def run(lib, resume_at=None):
        M = torch.optim.lr_scheduler if lib is torch else S
        opt = _optimizer(lib, "SGD")
        make = lambda o: M.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.02])  # noqa
        sched, out = make(opt), []
        for t, m in enumerate(metrics):
            if t == resume_at:
                sd, osd = copy.deepcopy(sched.state_dict()), copy.deepcopy(opt.state_dict())
                opt = _optimizer(lib, "SGD", lr=0.5)
                sched = make(opt)
                opt.load_state_dict(osd)
                sched.load_state_dict(sd)
            sched.step(m)
            out.append([g["lr"] for g in opt.param_groups])
        return np.array(out)

    theirs = run(torch)
    np.testing.assert_allclose(run(tn), theirs, rtol=1e-12)
    np.testing.assert_allclose(run(tn, resume_at=17), theirs, rtol=1e-12)


def test_one_cycle_groups_carry_the_schedule_in_the_optimizer_state():
    opt = _optimizer(tn, "SGD")
    S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    g = opt.param_groups[0]
    assert g["initial_lr"] == 1.0 / 25 and g["max_lr"] == 1.0 and g["min_lr"] == 1.0 / 25 / 1e4
    assert g["max_momentum"] == 0.95 and g["base_momentum"] == 0.85
    fresh = _optimizer(tn, "SGD")  # no scheduler: the keys still load (as in PyTorch)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["max_lr"] == 1.0
    bad = opt.state_dict()
    bad["param_groups"][0]["max_lr"] = float("nan")
    with pytest.raises(ValueError, match="max_lr"):
        fresh.load_state_dict(bad)


def test_one_cycle_refuses_to_step_past_total_steps():
    opt = _optimizer(tn, "SGD")
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="OneCycleLR: Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()


def _o(kind="SGD"):
    return _optimizer(tn, kind)


BAD = [
    (lambda: S.LambdaLR(_o(), [lambda e: 1.0]), ValueError, "LambdaLR: Expected 2 lr_lambdas, but got 1"),
    (lambda: S.LambdaLR(_o(), 0.5), TypeError, "LambdaLR: lr_lambda should be a function, but got float"),
    (lambda: S.MultiplicativeLR(_o(), [None, None]), TypeError, "MultiplicativeLR: lr_lambda should be a function"),
    (lambda: S.LambdaLR(object(), lambda e: 1), TypeError, "LambdaLR: object is not an Optimizer"),
    (lambda: S.ConstantLR(_o(), factor=1.5), ValueError, "ConstantLR: Constant multiplicative factor expected to be"),
    (lambda: S.ConstantLR(_o(), factor=0.0), ValueError, "ConstantLR: Constant multiplicative factor"),
    (lambda: S.ConstantLR(_o(), total_iters=0), ValueError, "ConstantLR: total_iters must be a positive int"),
    (lambda: S.PolynomialLR(_o(), total_iters=2.5), ValueError, "PolynomialLR: total_iters must be a positive int"),
    (lambda: S.PolynomialLR(_o(), power=-1.0), ValueError, "PolynomialLR: power must be a finite number >= 0"),
    (lambda: S.CosineAnnealingWarmRestarts(_o(), T_0=0), ValueError,
     "CosineAnnealingWarmRestarts: Expected positive integer T_0, but got 0"),
    (lambda: S.CosineAnnealingWarmRestarts(_o(), T_0=2, T_mult=0), ValueError,
     "CosineAnnealingWarmRestarts: Expected integer T_mult >= 1, but got 0"),
    (lambda: S.CosineAnnealingWarmRestarts(_o(), T_0=2, eta_min="0"), ValueError,
     "CosineAnnealingWarmRestarts: Expected a finite float or int eta_min"),
    (lambda: S.CosineAnnealingWarmRestarts(_o(), T_0=2).step(-1), ValueError,
     "CosineAnnealingWarmRestarts: Expected non-negative epoch, but got -1"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, mode="square"), ValueError, "CyclicLR: mode is invalid and scale_fn is None"),
    (lambda: S.CyclicLR(_o(), [0.01], 0.1), ValueError,
     "CyclicLR: base_lr must have the same length as optimizer.param_groups. base_lr has 1 values"),
    (lambda: S.CyclicLR(_o(), 0.01, -0.1), ValueError, "CyclicLR: each max_lr must be a finite number >= 0"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, step_size_up=0), ValueError, "CyclicLR: step_size_up must be a number > 0"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, step_size_down=-2), ValueError, "CyclicLR: step_size_down must be None"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, scale_mode="epochs"), ValueError, "CyclicLR: scale_mode must be"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, gamma=0.0), ValueError, "CyclicLR: gamma must be a finite number > 0"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, scale_fn=3), TypeError, "CyclicLR: scale_fn must be a function"),
    (lambda: S.CyclicLR(_o("Adagrad"), 0.01, 0.1), ValueError,
     "CyclicLR: optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
    (lambda: S.CyclicLR(_o(), 0.01, 0.1, cycle_momentum=1), TypeError,
     "CyclicLR: cycle_momentum must be True or False"),
    (lambda: S.OneCycleLR(_o(), 1.0), ValueError,
     "OneCycleLR: You must define either total_steps OR \\(epochs AND steps_per_epoch\\)"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=0), ValueError,
     "OneCycleLR: Expected positive integer total_steps, but got 0"),
    (lambda: S.OneCycleLR(_o(), 1.0, epochs=2, steps_per_epoch=0), ValueError,
     "OneCycleLR: Expected positive integer steps_per_epoch, but got 0"),
    (lambda: S.OneCycleLR(_o(), 1.0, epochs=-2, steps_per_epoch=3), ValueError,
     "OneCycleLR: Expected positive integer epochs, but got -2"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, pct_start=1.5), ValueError,
     "OneCycleLR: Expected float between 0 and 1 pct_start, but got 1.5"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, anneal_strategy="exp"), ValueError,
     "OneCycleLR: anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda: S.OneCycleLR(_o(), [1.0, 2.0, 3.0], total_steps=5), ValueError,
     "OneCycleLR: max_lr must have the same length as optimizer.param_groups"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, div_factor=0), ValueError, "OneCycleLR: div_factor must be"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, final_div_factor=float("inf")), ValueError,
     "OneCycleLR: final_div_factor must be"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, three_phase="yes"), TypeError,
     "OneCycleLR: three_phase must be True or False"),
    (lambda: S.OneCycleLR(_o("Adagrad"), 1.0, total_steps=5), ValueError,
     "OneCycleLR: optimizer must support momentum or beta1"),
    (lambda: S.OneCycleLR(_o(), 1.0, total_steps=5, base_momentum=[0.8]), ValueError,
     "OneCycleLR: base_momentum must have the same length"),
    (lambda: S.ChainedScheduler([]), ValueError, "ChainedScheduler expects at least one scheduler to be chained"),
    (lambda: S.ChainedScheduler([object()]), TypeError, "ChainedScheduler at index 0 should have `optimizer`"),
    (lambda: S.ChainedScheduler([S.ExponentialLR(_o(), 0.9), S.ExponentialLR(_o(), 0.9)]), ValueError,
     "ChainedScheduler expects all schedulers to belong to the same optimizer, but got scheduler ExponentialLR at "
     "index 1"),
    (lambda: S.ChainedScheduler([S.ReduceLROnPlateau(_o())]), ValueError,
     "ChainedScheduler does not support `ReduceLROnPlateau`"),
    (lambda: S.ChainedScheduler([S.ExponentialLR(_o(), 0.9)]).step(3), TypeError,
     "ChainedScheduler.step\\(\\) takes no epoch"),
]


@pytest.mark.parametrize("build,exc,message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments_are_refused(build, exc, message):
    with pytest.raises(exc, match=message):
        build()


def test_failed_constructor_leaves_the_optimizer_alone():
    opt = _o()
    before = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])
    with pytest.raises(ValueError):
        S.CyclicLR(opt, 0.01, 0.1, scale_mode="epochs")
    with pytest.raises(ValueError):
        S.OneCycleLR(opt, 1.0, total_steps=5, div_factor=0)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == before


LOADS = [
    ("LambdaLR", lambda o: S.LambdaLR(o, lambda e: 1.0), "lr_lambdas", [None], "lr_lambdas must be a list of 2"),
    ("ConstantLR", lambda o: S.ConstantLR(o), "factor", 2.0, "Constant multiplicative factor"),
    ("PolynomialLR", lambda o: S.PolynomialLR(o), "power", float("nan"), "power must be a finite number"),
    ("CosineAnnealingWarmRestarts", lambda o: S.CosineAnnealingWarmRestarts(o, 3), "T_i", 0, "T_i must be"),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1), "max_lrs", [0.1], "max_lrs must hold 2 value"),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1), "base_momentums", [0.8, -1.0], "each base_momentums"),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=9), "_anneal_func_type", "exp", "_anneal_func_type"),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=9), "_schedule_phases", [{"end_step": 1}],
     "_schedule_phases must be"),
]


@pytest.mark.parametrize("name,make,key,value,message", LOADS, ids=[f"{x[0]}-{x[2]}" for x in LOADS])
def test_load_state_dict_checks_and_changes_nothing(name, make, key, value, message):
    sched = make(_o())
    sched.step()
    before = copy.deepcopy({k: v for k, v in sched.state_dict().items() if k not in ("lr_lambdas",)})
    bad = {**sched.state_dict(), key: value}
    with pytest.raises(ValueError, match=f"{name}.load_state_dict: .*{message}"):
        sched.load_state_dict(bad)
    assert {k: v for k, v in sched.state_dict().items() if k not in ("lr_lambdas",)} == before
    # and another scheduler's state is refused by its tag
    with pytest.raises(ValueError, match=f"the state dict is StepLR's, not {name}'s"):
        sched.load_state_dict(S.StepLR(_o(), 3).state_dict())


def test_chained_scheduler_load_checks_each_scheduler():
    o = _o()
    chained = S.ChainedScheduler([S.ConstantLR(o), S.ExponentialLR(o, 0.9)])
    sd = chained.state_dict()
    assert sd["scheduler"] == "ChainedScheduler" and len(sd["_schedulers"]) == 2
    bad = copy.deepcopy(sd)
    bad["_schedulers"][1]["gamma"] = -1.0
    with pytest.raises(ValueError, match="ChainedScheduler.load_state_dict: scheduler 1: gamma must be"):
        chained.load_state_dict(bad)
    bad = copy.deepcopy(sd)
    bad["_schedulers"] = bad["_schedulers"][:1]
    with pytest.raises(ValueError, match="_schedulers must hold the states of this ChainedScheduler's 2 schedulers"):
        chained.load_state_dict(bad)


def test_torch_has_no_verbose_argument_and_neither_do_we():
    """torch 2.13's schedulers no longer take ``verbose``; tinynet's signatures are torch's."""
    import inspect
    for name in ("LambdaLR", "MultiplicativeLR", "ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts",
                 "CyclicLR", "OneCycleLR", "ChainedScheduler", "SequentialLR", "ReduceLROnPlateau", "MultiStepLR",
                 "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"):
        ours = inspect.signature(getattr(S, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.optim.lr_scheduler, name).__init__).parameters
        assert list(ours) == list(theirs), name
        for k, p in theirs.items():
            if p.default is not inspect.Parameter.empty:
                d = ours[k].default
                assert d == p.default or (isinstance(d, float) and math.isclose(d, p.default)), (name, k)


RESUMABLE = [
    ("StepLR", dict(step_size=5, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("LinearLR", dict(start_factor=0.2, total_iters=8)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("MultiStepLR", dict(milestones=[6, 9])),
    ("ConstantLR", dict(factor=0.5, total_iters=7)),
    ("PolynomialLR", dict(total_iters=9, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
]


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[r[0] for r in RESUMABLE])
@pytest.mark.parametrize("last_epoch", [0, 4, 5])
def test_constructing_with_last_epoch_matches_torch(name, kwargs, last_epoch):
    """Resuming by ``last_epoch=k`` (the groups hold ``initial_lr``): the first step must not
    run one step ahead, and the sequence then is torch's (torch 2.13's ``_is_initial`` rules)."""
    def run(lib):
        M = torch.optim.lr_scheduler if lib is torch else S
        opt = _optimizer(lib, "SGD")
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
            g["lr"] = g["lr"] * 0.5
        sched = getattr(M, name)(opt, last_epoch=last_epoch, **kwargs)
        out = [sched.get_last_lr()]
        for _ in range(15):
            opt.step()
            sched.step()
            out.append(sched.get_last_lr())
        return np.array(out)

    np.testing.assert_allclose(run(tn), run(torch), rtol=1e-12, atol=1e-15)
