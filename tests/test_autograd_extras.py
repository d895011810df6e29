"""tn.autograd extras against torch.autograd: functional (jacobian, hessian, vjp, jvp, hvp,
vhp), anomaly detection, autograd.backward(inputs=...), register_post_accumulate_grad_hook."""
import warnings

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import functional as AF
from tinynet.autograd.op import Op

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3))
Y = RNG.standard_normal((2, 3))
V = RNG.standard_normal((2, 3))
W = RNG.standard_normal((3,))


def T(a):
    return torch.tensor(a)


def N(a, device="cpu"):
    return tn.tensor(a, dtype=tn.float64, device=device)


def close(mine, theirs, tol=1e-12):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(mine, tuple) and len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            close(a, b, tol)
        return
    assert isinstance(mine, tn.Tensor), type(mine)
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


# functions written once, run by both libraries (only methods and operators)
def f_one(x):
    return (x.exp() * x).sin()


def f_two_out(x, y):
    return (x.exp() * y.sin()).sum(0), x @ y.T


def f_scalar(x):
    return (x.exp() * x).sum() + (x * x * x).sum()


def f_scalar2(x, y):
    return (x * y.exp()).sum() + (x * x * y).sum()


# --- functional ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_jacobian_every_nesting_matches_torch(device):
    close(AF.jacobian(f_one, N(X, device)), TF.jacobian(f_one, T(X)))
    close(AF.jacobian(f_two_out, (N(X, device), N(Y, device))), TF.jacobian(f_two_out, (T(X), T(Y))))
    close(AF.jacobian(lambda x: f_two_out(x, N(Y, device)), N(X, device)),
          TF.jacobian(lambda x: f_two_out(x, T(Y)), T(X)))
    close(AF.jacobian(lambda x, y: (x * y).sum(1), (N(X, device), N(Y, device))),
          TF.jacobian(lambda x, y: (x * y).sum(1), (T(X), T(Y))))


def test_jacobian_forward_mode_and_vectorize():
    expected = TF.jacobian(f_two_out, (T(X), T(Y)), vectorize=True, strategy="forward-mode")
    close(AF.jacobian(f_two_out, (N(X), N(Y)), vectorize=True, strategy="forward-mode"), expected)
    close(AF.jacobian(f_two_out, (N(X), N(Y)), vectorize=True), expected)
    with pytest.raises(NotImplementedError, match="vectorize=True"):
        AF.jacobian(f_one, N(X), strategy="forward-mode")
    with pytest.raises(RuntimeError, match="strict=True"):
        AF.jacobian(f_one, N(X), strict=True, vectorize=True, strategy="forward-mode")
    with pytest.raises(ValueError, match="forward-mode"):
        AF.jacobian(f_one, N(X), strategy="sideways")


def test_jacobian_create_graph_is_differentiable():
    x = N(X).requires_grad_()
    tx = T(X).requires_grad_()
    j = AF.jacobian(f_one, x, create_graph=True)
    tj = TF.jacobian(f_one, tx, create_graph=True)
    assert j.requires_grad
    (gx,) = tn.autograd.grad((j * j).sum(), [x])
    (tgx,) = torch.autograd.grad((tj * tj).sum(), [tx])
    close(gx, tgx)
    assert not AF.jacobian(f_one, x).requires_grad  # detached without create_graph


def test_jacobian_independent_outputs_and_strict():
    def f(x, y):
        return x * 2

    close(AF.jacobian(f, (N(X), N(Y))), TF.jacobian(f, (T(X), T(Y))))
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is independent of input 1"):
        AF.jacobian(f, (N(X), N(Y)), strict=True)
    constant = lambda x: N(W)  # noqa: E731
    close(AF.jacobian(constant, N(X)), TF.jacobian(lambda x: T(W), T(X)))
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require gradients"):
        AF.jacobian(constant, N(X), strict=True)
    with pytest.raises(TypeError, match="The inputs given to jacobian must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(f_one, [N(X), 3.0])
    with pytest.raises(TypeError, match="outputs of the user-provided function given to jacobian"):
        AF.jacobian(lambda x: 3.0, N(X))


def test_hessian_matches_torch():
    close(AF.hessian(f_scalar, N(X)), TF.hessian(f_scalar, T(X)))
    close(AF.hessian(f_scalar2, (N(X), N(Y))), TF.hessian(f_scalar2, (T(X), T(Y))))
    close(AF.hessian(f_scalar, N(X), vectorize=True, outer_jacobian_strategy="forward-mode"),
          TF.hessian(f_scalar, T(X), vectorize=True, outer_jacobian_strategy="forward-mode"))
    close(AF.hessian(lambda x: (x * x).sum(), N(W)), TF.hessian(lambda x: (x * x).sum(), T(W)))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hessian(f_one, N(X))
    with pytest.raises(RuntimeError, match="should return a single Tensor"):
        AF.hessian(lambda x: (x.sum(), x.sum()), N(X))
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function with respect to input 0 is "
                                           "independent"):
        AF.hessian(lambda x: (x * 3).sum(), N(X), strict=True)


@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_vjp_jvp_match_torch(name):
    out, res = getattr(AF, name)(f_one, N(X), N(V))
    tout, tres = getattr(TF, name)(f_one, T(X), T(V))
    close(out, tout), close(res, tres)
    # tuples in and out
    if name == "vjp":
        got = AF.vjp(f_two_out, (N(X), N(Y)), (N(W), N(np.ones((2, 2)))))
        want = TF.vjp(f_two_out, (T(X), T(Y)), (T(W), torch.ones(2, 2, dtype=torch.float64)))
    else:
        got = AF.jvp(f_two_out, (N(X), N(Y)), (N(V), N(X)))
        want = TF.jvp(f_two_out, (T(X), T(Y)), (T(V), T(X)))
    close(got[0], want[0]), close(got[1], want[1])
    # v omitted: one-element output (vjp) / input (jvp)
    if name == "vjp":
        close(AF.vjp(f_scalar, N(X))[1], TF.vjp(f_scalar, T(X))[1])
        with pytest.raises(RuntimeError, match="v can only be None if the user-provided function returns a single"):
            AF.vjp(f_one, N(X))
    else:
        close(AF.jvp(lambda x: x.exp() * 3, N(np.array([0.5])))[1],
              TF.jvp(lambda x: x.exp() * 3, torch.tensor([0.5], dtype=torch.float64))[1])
        with pytest.raises(RuntimeError, match="v can only be None if the input to the user-provided function"):
            AF.jvp(f_one, N(X))
    with pytest.raises(RuntimeError, match="entry 0 of v has shape \\(3,\\)"):
        getattr(AF, name)(f_one, N(X), N(W))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp_match_torch(name):
    out, res = getattr(AF, name)(f_scalar, N(X), N(V))
    tout, tres = getattr(TF, name)(f_scalar, T(X), T(V))
    close(out, tout), close(res, tres)
    got = getattr(AF, name)(f_scalar2, (N(X), N(Y)), (N(V), N(X)))
    want = getattr(TF, name)(f_scalar2, (T(X), T(Y)), (T(V), T(X)))
    close(got[0], want[0]), close(got[1], want[1])
    # linear in y: second derivative w.r.t. y alone is zero (strict refuses it)
    lin = lambda x, y: (x * x).sum() + y.sum()  # noqa: E731
    close(getattr(AF, name)(lin, (N(X), N(Y)), (N(V), N(V)))[1],
          getattr(TF, name)(lin, (T(X), T(Y)), (T(V), T(V)))[1])
    with pytest.raises(RuntimeError, match="should return a single Tensor with a single element"):
        getattr(AF, name)(f_one, N(X), N(V))


def test_functional_create_graph_results_differentiable_against_torch():
    x, tx = N(X).requires_grad_(), T(X).requires_grad_()
    _, h = AF.hvp(f_scalar, x, N(V), create_graph=True)
    _, th = TF.hvp(f_scalar, tx, T(V), create_graph=True)
    close(tn.autograd.grad(h.sum(), [x])[0], torch.autograd.grad(th.sum(), [tx])[0])
    _, j = AF.jvp(f_one, x, N(V), create_graph=True)
    _, tj = TF.jvp(f_one, tx, T(V), create_graph=True)
    close(tn.autograd.grad(j.sum(), [x])[0], torch.autograd.grad(tj.sum(), [tx])[0])


# --- anomaly detection ----------------------------------------------------------------------------
def _nan_backward(x):
    return (x.sqrt() * 0).sum()  # sqrt'(0) = inf, times 0: NaN in SqrtBackward


@pytest.mark.parametrize("create_graph", [False, True])
def test_detect_anomaly_names_the_op_and_prints_the_forward(create_graph, capsys):
    plain = Op.__dict__["apply"]
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = tn.autograd.detect_anomaly()
    with ctx:
        assert tn.autograd.is_anomaly_enabled() and tn.autograd.is_anomaly_check_nan_enabled()
        x = tn.tensor([0.0, 1.0], requires_grad=True)
        loss = _nan_backward(x)
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward' returned nan values in its 0th output") as e:
            loss.backward(create_graph=create_graph)
    assert "x.sqrt() * 0" in str(e.value) and "Traceback of forward call" in str(e.value)
    assert "x.sqrt() * 0" in capsys.readouterr().err
    assert not tn.autograd.is_anomaly_enabled() and Op.__dict__["apply"] is plain  # nothing left when off
    # the same message as torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output"):
                _nan_backward(torch.tensor([0.0, 1.0], requires_grad=True)).backward()


def test_anomaly_off_or_check_nan_false_lets_nan_through():
    x = tn.tensor([0.0, 1.0], requires_grad=True)
    _nan_backward(x).backward()
    assert np.isnan(x.grad.numpy()[0])
    with pytest.warns(UserWarning):
        ctx = tn.autograd.detect_anomaly(check_nan=False)
    with ctx:
        assert not tn.autograd.is_anomaly_check_nan_enabled()
        x = tn.tensor([0.0, 1.0], requires_grad=True)
        y = x.sqrt()
        assert "_anomaly_trace" in y.grad_fn.__dict__  # still records where nodes came from
        (y * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])
    y = x.sqrt()
    assert "_anomaly_trace" not in y.grad_fn.__dict__


def test_detect_anomaly_as_decorator_and_set_detect_anomaly():
    with pytest.warns(UserWarning):
        @tn.autograd.detect_anomaly()
        def run():
            assert tn.autograd.is_anomaly_enabled()
            _nan_backward(tn.tensor([0.0], requires_grad=True)).backward()

    with pytest.raises(RuntimeError, match="SqrtBackward"):
        run()
    assert not tn.autograd.is_anomaly_enabled()
    with pytest.raises(RuntimeError, match="SqrtBackward"):
        run()  # reusable
    tn.autograd.set_detect_anomaly(True)
    try:
        assert tn.autograd.is_anomaly_enabled()
        with tn.autograd.set_detect_anomaly(False):
            assert not tn.autograd.is_anomaly_enabled()
            _nan_backward(tn.tensor([0.0], requires_grad=True)).backward()
        assert tn.autograd.is_anomaly_enabled()
    finally:
        tn.autograd.set_detect_anomaly(False)
    assert not tn.autograd.is_anomaly_enabled() and Op.__dict__["apply"].__func__.__name__ == "apply"


def test_anomaly_custom_function_and_nodes_recorded_before():
    class Bad(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = tn.tensor([1.0, 2.0], requires_grad=True)
    early = x.sqrt() * 0  # recorded before the mode: no traceback, still caught
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tn.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="Function 'BadBackward' returned nan values in its 0th output"):
                Bad.apply(x).sum().backward()
            t = tn.tensor([0.0], requires_grad=True)
            early = t.sqrt()
            with tn.autograd.set_detect_anomaly(False):
                early = early * 0
            with pytest.raises(RuntimeError, match="SqrtBackward"):
                tn.autograd.grad(early.sum(), [t])


# --- autograd.backward(inputs=) ------------------------------------------------------------------------
def _graph(lib):
    mk = (lambda a: torch.tensor(a, requires_grad=True)) if lib is torch else \
        (lambda a: tn.tensor(a, dtype=tn.float64, requires_grad=True))
    a, b = mk(X), mk(Y)
    h = a * b
    out = (h.exp() * a).sum()
    return a, b, h, out


def test_backward_inputs_accumulates_only_there():
    for inputs in (lambda a, b, h: [a], lambda a, b, h: b, lambda a, b, h: [a, b], lambda a, b, h: [h, b]):
        a, b, h, out = _graph(tn)
        ta, tb, th, tout = _graph(torch)
        tn.autograd.backward(out, inputs=inputs(a, b, h), retain_graph=True)
        torch.autograd.backward(tout, inputs=inputs(ta, tb, th), retain_graph=True)
        for mine, theirs in ((a, ta), (b, tb)):
            assert (mine.grad is None) == (theirs.grad is None)
            if theirs.grad is not None:
                close(mine.grad, theirs.grad)
        if th.grad is not None:
            close(h.grad, th.grad)
        # accumulates on a second call
        tn.autograd.backward(out, inputs=inputs(a, b, h))
        torch.autograd.backward(tout, inputs=inputs(ta, tb, th))
        if ta.grad is not None:
            close(a.grad, ta.grad)


def test_backward_many_outputs_grad_tensors_and_create_graph():
    a, b, h, out = _graph(tn)
    ta, tb, th, tout = _graph(torch)
    tn.autograd.backward([out, h], [None, N(V)], create_graph=True, inputs=[a])
    torch.autograd.backward([tout, th], [None, T(V)], create_graph=True, inputs=[ta])
    close(a.grad, ta.grad)
    assert a.grad.requires_grad and b.grad is None
    close(tn.autograd.grad(a.grad.sum(), [b])[0], torch.autograd.grad(ta.grad.sum(), [tb])[0])
    a, b, h, out = _graph(tn)
    tn.autograd.backward(out)  # no inputs: every leaf
    ta, tb, th, tout = _graph(torch)
    torch.autograd.backward(tout)
    close(a.grad, ta.grad), close(b.grad, tb.grad)


def test_backward_checks():
    a, b, h, out = _graph(tn)
    with pytest.raises(RuntimeError, match="'inputs' argument to backward\\(\\) cannot be empty"):
        tn.autograd.backward(out, inputs=[])
    with pytest.raises(RuntimeError, match="inputs\\[0\\] .* does not require grad"):
        tn.autograd.backward(out, inputs=[tn.ones(2)])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        tn.autograd.backward(h)
    with pytest.raises(ValueError, match="grad_tensors\\[0\\] has shape \\(3,\\)"):
        tn.autograd.backward(h, N(W))
    with pytest.raises(RuntimeError, match="got 2 grad_tensors for 1 tensors"):
        tn.autograd.backward([out], [None, None])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        tn.autograd.backward(tn.ones(()))
    with pytest.raises(RuntimeError, match="grad_tensors\\[0\\] is on cuda but output 0 is on cpu"):
        tn.autograd.backward(h, N(V, "cuda"))


# --- register_post_accumulate_grad_hook ------------------------------------------------------------
@pytest.mark.parametrize("create_graph", [False, True])
def test_post_accumulate_grad_hook(create_graph):
    seen = []
    for lib in (tn, torch):
        a, b, h, out = _graph(lib)
        calls = []
        handle = a.register_post_accumulate_grad_hook(
            lambda t: calls.append((t is a, t.grad.detach().numpy().copy())))
        out.backward(retain_graph=True, create_graph=create_graph)
        out.backward(create_graph=create_graph)
        seen.append(calls)
        handle.remove()
        a2, _, _, out2 = _graph(lib)
        assert a2.grad is None
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf"):
            h.register_post_accumulate_grad_hook(lambda t: None)
    mine, theirs = seen
    assert len(mine) == len(theirs) == 2 and all(c[0] for c in mine)
    for (_, g1), (_, g2) in zip(mine, theirs):
        np.testing.assert_allclose(g1, g2, rtol=1e-12)
    np.testing.assert_allclose(mine[1][1], 2 * mine[0][1])  # called after each accumulation


def test_post_accumulate_grad_hook_removal_and_optimizer_in_backward():
    p = tn.nn.Parameter(tn.tensor([1.0, 2.0]))
    opt = tn.optim.SGD([p], lr=0.5)

    def step_now(t):  # PyTorch's "optimizer step in backward" recipe
        opt.step()
        opt.zero_grad()

    h = p.register_post_accumulate_grad_hook(step_now)
    (p * p).sum().backward()
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0])
    assert p.grad is None
    h.remove()
    (p + 1).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [1.0, 1.0])
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tn.ones(2).register_post_accumulate_grad_hook(step_now)
    with pytest.raises(TypeError, match="a hook must be callable"):
        p.register_post_accumulate_grad_hook(3)
    # only through autograd.backward(inputs=) too
    calls = []
    q = tn.tensor([1.0], requires_grad=True)
    q.register_post_accumulate_grad_hook(lambda t: calls.append(float(t.grad.item())))
    tn.autograd.backward((q * 3).sum(), inputs=[q])
    assert calls == [3.0]
