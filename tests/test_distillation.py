"""Knowledge distillation: F.kl_div / nn.KLDivLoss parity with PyTorch, and
F.distillation_loss / nn.DistillationLoss against a NumPy reference, the same formula built
from torch ops, float64 gradient checks and the error messages.

The torch comparisons skip when torch is not installed; the rest always runs.
"""
import math
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn

try:
    import torch
    TF = torch.nn.functional
except ImportError:  # pragma: no cover - torch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

KL_REDUCTIONS = ["none", "sum", "mean", "batchmean"]


def _probs(*shape, seed=1):
    e = np.exp(np.random.default_rng(seed).standard_normal(shape))
    return e / e.sum(axis=-1, keepdims=True)


def _logprobs(*shape, seed=0):
    z = np.random.default_rng(seed).standard_normal(shape) * 2.0
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _both(a, dtype="float64", requires_grad=True):
    return (tn.tensor(a, dtype=getattr(tn, dtype), requires_grad=requires_grad),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def _compare(ours, theirs, pairs, rtol=1e-10, atol=1e-12):
    """Values, dtype and the gradients of a random weighting of the output w.r.t. every input."""
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(7).standard_normal(tuple(theirs.shape))
    (ours * tn.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    for a, b in pairs:
        assert a.grad is not None and b.grad is not None
        assert a.grad.dtype == a.dtype
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


def _torch_kl(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that reduction="mean" is not the true KL
        return TF.kl_div(*args, **kwargs)


# --- kl_div parity ------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_parity_values_and_gradients_wrt_input_and_target(reduction, log_target):
    x, tx = _both(_logprobs(5, 4))
    target = np.log(_probs(5, 4)) if log_target else _probs(5, 4)
    y, ty = _both(target)
    ours = F.kl_div(x, y, reduction=reduction, log_target=log_target)
    theirs = _torch_kl(tx, ty, reduction=reduction, log_target=log_target)
    _compare(ours, theirs, [(x, tx), (y, ty)])


@needs_torch
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_module_parity(reduction, log_target):
    x, tx = _both(_logprobs(3, 6, 2))
    target = np.log(_probs(3, 6, 2)) if log_target else _probs(3, 6, 2)
    y, ty = _both(target)
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(tx, ty)
    _compare(ours, theirs, [(x, tx), (y, ty)])


@needs_torch
@pytest.mark.parametrize("target_shape", [(1, 4), (4,), (3, 1)])
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
def test_kl_div_broadcasts_like_torch(target_shape, reduction):
    x, tx = _both(_logprobs(3, 4))
    y, ty = _both(np.random.default_rng(3).random(target_shape))
    _compare(F.kl_div(x, y, reduction=reduction), _torch_kl(tx, ty, reduction=reduction), [(x, tx), (y, ty)])


@needs_torch
def test_kl_div_promotes_dtypes_like_torch():
    x, tx = _both(_logprobs(3, 4), dtype="float32")
    y, ty = _both(_probs(3, 4), dtype="float64")
    ours, theirs = F.kl_div(x, y, reduction="sum"), _torch_kl(tx, ty, reduction="sum")
    assert ours.dtype == tn.float64 and theirs.dtype == torch.float64
    _compare(ours, theirs, [(x, tx), (y, ty)], rtol=1e-6, atol=1e-7)


@needs_torch
def test_kl_div_negative_probability_target_is_nan_like_torch():
    p = _probs(2, 3)
    p[0, 1] = -0.25
    ours = F.kl_div(tn.tensor(_logprobs(2, 3), dtype=tn.float64), tn.tensor(p, dtype=tn.float64), reduction="none")
    theirs = _torch_kl(torch.tensor(_logprobs(2, 3)), torch.tensor(p), reduction="none")
    np.testing.assert_array_equal(np.isnan(ours.numpy()), np.isnan(theirs.numpy()))
    assert np.isnan(ours.numpy()[0, 1])
    np.testing.assert_allclose(ours.numpy()[1], theirs.numpy()[1], rtol=1e-12)


def test_kl_div_refuses_integer_target_and_unbroadcastable_shapes():
    x = tn.tensor(_logprobs(3, 4), dtype=tn.float64)
    with pytest.raises(TypeError, match=r"kl_div: target must be floating point .*int64.*target.to\(input.dtype\)"):
        F.kl_div(x, tn.tensor(np.eye(3, 4, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"kl_div: input has shape \(3, 4\) and target has shape \(2, 4\), which do not "
                                         "broadcast"):
        F.kl_div(x, tn.tensor(_probs(2, 4), dtype=tn.float64))


def test_kl_div_float64_gradcheck_both_arguments():
    for log_target in (False, True):
        x = tn.tensor(_logprobs(3, 4), dtype=tn.float64, requires_grad=True)
        target = np.log(_probs(3, 4)) if log_target else _probs(3, 4)
        y = tn.tensor(target, dtype=tn.float64, requires_grad=True)
        assert tn.gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=log_target), (x, y),
                            mode="full")


# --- distillation_loss: references --------------------------------------------------------------
def _np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _np_distillation(s, t, y, T, alpha, reduction="mean"):
    """Per-sample alpha T^2 KL(p_T || q_T) + (1 - alpha) CE, in float64 NumPy."""
    log_q, log_p = _np_log_softmax(s / T), _np_log_softmax(t / T)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=1)
    ce = -np.take_along_axis(_np_log_softmax(s), y[:, None], axis=1)[:, 0]
    per = alpha * T * T * kl + (1 - alpha) * ce
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


def _data(n=6, c=5, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, c)) * 3, r.standard_normal((n, c)) * 3, r.integers(0, c, n)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("T,alpha", [(4.0, 0.9), (1.0, 0.5), (2.5, 0.0), (7.0, 1.0)])
def test_distillation_loss_matches_numpy_reference(device, reduction, T, alpha):
    s, t, y = _data()
    ours = F.distillation_loss(tn.tensor(s, dtype=tn.float64, device=device), tn.tensor(t, dtype=tn.float64,
                               device=device), tn.tensor(y, device=device), temperature=T, alpha=alpha,
                               reduction=reduction)
    np.testing.assert_allclose(ours.numpy(), _np_distillation(s, t, y, T, alpha, reduction), rtol=1e-10, atol=1e-12)


def test_distillation_loss_is_the_hinton_mix_of_kl_batchmean_and_cross_entropy():
    """For (N, C) logits the 'mean' loss is exactly alpha T^2 kl_div(batchmean) + (1 - alpha) CE."""
    s, t, y = (tn.tensor(a, dtype=tn.float64) if a.dtype.kind == "f" else tn.tensor(a) for a in _data())
    T, alpha = 3.0, 0.7
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    expected = alpha * T * T * kl.item() + (1 - alpha) * F.cross_entropy(s, y).item()
    assert math.isclose(F.distillation_loss(s, t, y, temperature=T, alpha=alpha).item(), expected, rel_tol=1e-12)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_distillation_loss_matches_the_formula_in_torch_ops(reduction):
    s_np, t_np, y_np = _data(n=7, c=4, seed=2)
    T, alpha = 4.0, 0.9
    s, ts = _both(s_np)
    t, tt = _both(t_np)
    ours = F.distillation_loss(s, t, tn.tensor(y_np), temperature=T, alpha=alpha, reduction=reduction)
    soft = TF.kl_div(TF.log_softmax(ts / T, 1), TF.log_softmax(tt.detach() / T, 1), reduction="none",
                     log_target=True).sum(1) * T * T
    per = alpha * soft + (1 - alpha) * TF.cross_entropy(ts, torch.tensor(y_np), reduction="none")
    theirs = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    if reduction == "mean":  # and the batchmean form of the same loss
        batchmean = alpha * T * T * TF.kl_div(TF.log_softmax(ts / T, 1), TF.softmax(tt.detach() / T, 1),
                                              reduction="batchmean") + (1 - alpha) * TF.cross_entropy(ts, torch.tensor(y_np))
        assert math.isclose(batchmean.item(), theirs.item(), rel_tol=1e-12)
    w = np.random.default_rng(5).standard_normal(tuple(theirs.shape))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ours * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert t.grad is None and tt.grad is None  # the teacher side is detached in both


def test_distillation_loss_gradcheck_float64(device):
    s_np, t_np, y_np = _data(n=3, c=4, seed=4)
    s = tn.tensor(s_np, dtype=tn.float64, device=device, requires_grad=True)
    t = tn.tensor(t_np, dtype=tn.float64, device=device)
    y = tn.tensor(y_np, device=device)
    for T, alpha in ((4.0, 0.9), (0.5, 0.3)):
        assert tn.gradcheck(lambda a: F.distillation_loss(a, t, y, temperature=T, alpha=alpha), (s,), mode="full")
    assert tn.gradcheck(lambda a: F.distillation_loss(a, t, y, reduction="none"), (s,), mode="full")


def test_distillation_loss_gradient_matches_closed_form():
    """d/ds of the soft term is alpha * T * (q_T - p_T) / N; of the hard term (1 - alpha)(softmax(s) - onehot) / N."""
    s_np, t_np, y_np = _data(n=4, c=3, seed=6)
    T, alpha = 5.0, 0.8
    s = tn.tensor(s_np, dtype=tn.float64, requires_grad=True)
    F.distillation_loss(s, tn.tensor(t_np, dtype=tn.float64), tn.tensor(y_np), temperature=T, alpha=alpha).backward()
    q, p, sm = (np.exp(_np_log_softmax(z)) for z in (s_np / T, t_np / T, s_np))
    expected = (alpha * T * (q - p) + (1 - alpha) * (sm - np.eye(3)[y_np])) / 4
    np.testing.assert_allclose(s.grad.numpy(), expected, rtol=1e-10, atol=1e-13)


def test_teacher_receives_no_gradient_and_loss_is_zero_when_student_equals_teacher():
    z = np.random.default_rng(0).standard_normal((4, 3))
    s = tn.tensor(z, dtype=tn.float64, requires_grad=True)
    t = tn.tensor(z, dtype=tn.float64, requires_grad=True)
    loss = F.distillation_loss(s, t, alpha=1.0)
    assert abs(loss.item()) < 1e-12
    loss.backward()
    assert t.grad is None
    np.testing.assert_allclose(s.grad.numpy(), 0.0, atol=1e-12)


def test_distillation_loss_stable_for_huge_logits_and_keeps_float32():
    s = tn.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    t = tn.tensor([[-1000.0, 1000.0, 0.0]])
    loss = F.distillation_loss(s, t, tn.tensor([0]), temperature=1.0, alpha=0.5)
    assert loss.dtype == tn.float32 and np.isfinite(loss.item())
    assert math.isclose(loss.item(), 0.5 * 2000.0, rel_tol=1e-5)  # KL = 2000 nats, CE = 0
    loss.backward()
    assert s.grad.dtype == tn.float32 and np.isfinite(s.grad.numpy()).all()


def test_distillation_loss_on_spatial_logits():
    r = np.random.default_rng(8)
    s_np, t_np, y_np = r.standard_normal((2, 3, 4)), r.standard_normal((2, 3, 4)), r.integers(0, 3, (2, 4))
    per = F.distillation_loss(tn.tensor(s_np, dtype=tn.float64), tn.tensor(t_np, dtype=tn.float64), tn.tensor(y_np),
                              temperature=2.0, alpha=0.6, reduction="none")
    assert tuple(per.shape) == (2, 4)
    flat = lambda a: a.transpose(0, 2, 1).reshape(8, 3)  # noqa: E731
    ref = _np_distillation(flat(s_np), flat(t_np), y_np.reshape(8), 2.0, 0.6, "none").reshape(2, 4)
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-10)


def test_distillation_module():
    s_np, t_np, y_np = _data()
    crit = nn.DistillationLoss(temperature=2.0, alpha=0.25, reduction="sum")
    assert (crit.temperature, crit.alpha, crit.reduction) == (2.0, 0.25, "sum")
    assert "temperature=2, alpha=0.25" in repr(crit)
    out = crit(tn.tensor(s_np, dtype=tn.float64), tn.tensor(t_np, dtype=tn.float64), tn.tensor(y_np))
    np.testing.assert_allclose(out.item(), _np_distillation(s_np, t_np, y_np, 2.0, 0.25, "sum"), rtol=1e-10)
    assert (nn.DistillationLoss().temperature, nn.DistillationLoss().alpha) == (4.0, 0.9)


# --- errors -------------------------------------------------------------------------------------
def test_distillation_errors_name_both_shapes_and_class_counts():
    s, t = tn.randn(4, 10), tn.randn(4, 5)
    with pytest.raises(ValueError, match=r"student_logits have shape \(4, 10\) but teacher_logits have shape "
                                         r"\(4, 5\): the student has 10 classes and the teacher 5"):
        F.distillation_loss(s, t, tn.tensor([0, 1, 2, 3]))
    with pytest.raises(RuntimeError, match=r"\(4, 10\).*\(3, 10\): give both the same batch"):
        F.distillation_loss(s, tn.randn(3, 10), tn.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"student_logits must be \(N, C\) logits.*shape \(10,\)"):
        F.distillation_loss(tn.randn(10), tn.randn(10), tn.tensor(1))
    with pytest.raises(TypeError, match="teacher_logits must be floating point logits.*int64"):
        F.distillation_loss(s, tn.zeros(4, 10, dtype=tn.int64), tn.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="teacher_logits must be a Tensor, got ndarray"):
        F.distillation_loss(s, np.zeros((4, 10)), tn.tensor([0, 1, 2, 3]))


@pytest.mark.parametrize("kwargs,match", [
    ({"temperature": 0.0}, r"temperature must be > 0 and finite, got 0.0"),
    ({"temperature": -2}, r"temperature must be > 0 and finite, got -2.0"),
    ({"temperature": float("inf")}, r"temperature must be > 0 and finite, got inf"),
    ({"alpha": 1.5}, r"alpha must be in \[0, 1\].*got 1.5"),
    ({"alpha": -0.1}, r"alpha must be in \[0, 1\].*got -0.1"),
    ({"reduction": "batchmean"}, r"reduction must be 'mean', 'sum' or 'none', got 'batchmean'"),
])
def test_distillation_argument_errors(kwargs, match):
    s, t, y = tn.randn(2, 3), tn.randn(2, 3), tn.tensor([0, 1])
    with pytest.raises(ValueError, match="distillation_loss: " + match):
        F.distillation_loss(s, t, y, **kwargs)
    with pytest.raises(ValueError, match="DistillationLoss: " + match):
        nn.DistillationLoss(**kwargs)


def test_distillation_needs_target_unless_alpha_is_one_and_checks_target_shape():
    s, t = tn.randn(2, 3), tn.randn(2, 3)
    with pytest.raises(ValueError, match=r"target \(the hard labels\) is needed when alpha < 1 \(alpha = 0.9\)"):
        F.distillation_loss(s, t)
    assert np.isfinite(F.distillation_loss(s, t, alpha=1.0).item())
    with pytest.raises(ValueError):
        F.distillation_loss(s, t, tn.tensor([0, 1, 2]))
