"""Learning-rate schedules: the lr sequences equal torch's (and the closed forms)."""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.optim as optim
from tinynet.optim import lr_scheduler as S

EPOCHS = 25


def _opt(lr=0.1, groups=1):
    if groups == 1:
        return optim.SGD([nn.Parameter(tn.zeros(2))], lr=lr)
    return optim.SGD([{"params": [nn.Parameter(tn.zeros(2))]},
                      {"params": [nn.Parameter(tn.zeros(2))], "lr": lr * 3}], lr=lr)


def _sequence(sched, opt, n=EPOCHS):
    out = [[g["lr"] for g in opt.param_groups]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == out[-1]
    return np.array(out)


SPECS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 15], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=6)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=10)),
]


def _torch_pair(torch, groups=1, lr=0.1):
    if groups == 1:
        return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr)
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)]},
                            {"params": [torch.zeros(2, requires_grad=True)], "lr": lr * 3}], lr=lr)


@pytest.mark.parametrize("name,kwargs", SPECS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SPECS)])
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt = _opt(groups=2)
    ours = _sequence(getattr(S, name)(opt, **kwargs), opt)
    topt = _torch_pair(torch, groups=2)
    theirs = _sequence(getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), topt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_closed_forms():
    opt = _opt(0.1)
    seq = _sequence(S.StepLR(opt, step_size=3, gamma=0.5), opt)[:, 0]
    np.testing.assert_allclose(seq, [0.1 * 0.5 ** (e // 3) for e in range(EPOCHS + 1)], rtol=1e-12)
    opt = _opt(0.1)
    seq = _sequence(S.CosineAnnealingLR(opt, T_max=EPOCHS), opt)[:, 0]
    np.testing.assert_allclose(seq, [0.05 * (1 + math.cos(math.pi * e / EPOCHS)) for e in range(EPOCHS + 1)],
                               rtol=1e-9, atol=1e-12)
    opt = _opt(0.1)
    seq = _sequence(S.LinearLR(opt, start_factor=0.25, total_iters=4), opt)[:, 0]
    np.testing.assert_allclose(seq[:6], [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1], rtol=1e-12)


def test_sequential_warmup_then_cosine_matches_torch():
    torch = pytest.importorskip("torch")

    def build(mod, opt):
        warm = mod.LinearLR(opt, start_factor=0.1, total_iters=5)
        cos = mod.CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)
        return mod.SequentialLR(opt, [warm, cos], milestones=[5])

    opt = _opt()
    ours = _sequence(build(S, opt), opt)
    topt = _torch_pair(torch)
    theirs = _sequence(build(torch.optim.lr_scheduler, topt), topt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert ours[0, 0] == pytest.approx(0.01) and ours[5, 0] == pytest.approx(0.1)


def test_sequential_three_stages_matches_torch():
    torch = pytest.importorskip("torch")

    def build(mod, opt):
        a = mod.ExponentialLR(opt, gamma=0.8)
        b = mod.StepLR(opt, step_size=2, gamma=0.5)
        c = mod.LinearLR(opt, start_factor=0.5, total_iters=3)
        return mod.SequentialLR(opt, [a, b, c], milestones=[4, 10])

    opt = _opt()
    topt = _torch_pair(torch)
    np.testing.assert_allclose(_sequence(build(S, opt), opt), _sequence(build(torch.optim.lr_scheduler, topt), topt),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=2, cooldown=2, min_lr=0.02),
                                    dict(patience=1, threshold=0.1, threshold_mode="abs")])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.61, 0.62, 0.63, 0.2, 0.3, 0.3, 0.3,
               0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    opt, topt = _opt(), _torch_pair(torch)
    ours = S.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr())
    assert opt.param_groups[0]["lr"] < 0.1


def test_reduce_on_plateau_rules_by_hand():
    opt = _opt(1.0)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=0.3)
    for m, lr in [(5.0, 1.0), (5.0, 1.0), (5.0, 1.0), (5.0, 0.5), (5.0, 0.5), (5.0, 0.5), (5.0, 0.3), (4.0, 0.3)]:
        sched.step(m)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)
    sched.step(tn.tensor(1.0))  # a 0-d tensor metric works too
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="lowest")


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[2, 5], gamma=0.1),
    lambda o: S.CosineAnnealingLR(o, T_max=8),
    lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.2, total_iters=3), S.ExponentialLR(o, gamma=0.9)],
                             milestones=[3]),
    lambda o: S.ReduceLROnPlateau(o, patience=1),
])
def test_state_dict_round_trip_resumes(make):
    def advance(sched, opt, n, start=0):
        for i in range(start, start + n):
            opt.step()
            if isinstance(sched, S.ReduceLROnPlateau):
                sched.step(1.0)
            else:
                sched.step()
        return [g["lr"] for g in opt.param_groups]

    opt = _opt()
    sched = make(opt)
    full = [advance(sched, opt, 1) for _ in range(12)]

    opt1 = _opt()
    sched1 = make(opt1)
    for _ in range(5):
        advance(sched1, opt1, 1)
    osd, ssd = opt1.state_dict(), sched1.state_dict()
    opt2 = _opt()
    sched2 = make(opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    rest = [advance(sched2, opt2, 1) for _ in range(7)]
    np.testing.assert_allclose(rest, full[5:], rtol=1e-12)


def test_errors():
    opt = _opt()
    with pytest.raises(TypeError, match="Optimizer"):
        S.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="one milestone fewer"):
        S.SequentialLR(opt, [S.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), step_size=2, last_epoch=4)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0)
