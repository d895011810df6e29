"""Reverse-mode autograd: chain rule, accumulation, graph freeing, grad modes, higher order,
in-place detection, deep graphs, dtypes, and that no graph outlives its step."""
import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import GraphFreedError


def _t(values, device="cpu", dtype=tn.float64):
    return tn.tensor(values, dtype=dtype, device=device, requires_grad=True)


# --- the chain rule -----------------------------------------------------------------------------
def test_chain_rule_of_a_composite_function(device):
    xs = np.array([-1.5, 0.0, 0.7, 2.0])
    x = _t(xs, device)
    y = ((x ** 2 + 3 * x) * tn.exp(x)).sum()
    y.backward()
    want = (2 * xs + 3) * np.exp(xs) + (xs ** 2 + 3 * xs) * np.exp(xs)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_a_tensor_used_twice_gets_both_contributions(device):
    a, b = _t([2.0], device), _t([5.0], device)
    y = a * b
    z = (y + y * a).sum()  # z = ab + a^2 b
    z.backward()
    assert a.grad.tolist() == [5.0 + 2 * 2 * 5]  # b + 2ab
    assert b.grad.tolist() == [2.0 + 4.0]  # a + a^2


def test_diamond_graph_and_broadcasting_shapes(device):
    w = _t(np.ones((3, 1)), device)
    x = tn.tensor(np.arange(6.0).reshape(2, 1, 3), device=device)
    h = x * w  # (2, 3, 3)
    out = (tn.exp(h * 0.1) + h).sum()
    out.backward()
    xs = np.arange(6.0).reshape(2, 1, 3)
    # every w_i (= 1) multiplies every x once: dL/dw_i = sum_x x (0.1 e^(0.1 x) + 1)
    want = np.full((3, 1), (xs * (0.1 * np.exp(0.1 * xs) + 1)).sum())
    assert w.grad.shape == (3, 1)
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12)


def test_backward_with_an_explicit_gradient(device):
    x = _t([1.0, 2.0, 3.0], device)
    y = x * x
    y.backward(tn.tensor([1.0, 0.0, 2.0], dtype=tn.float64, device=device))
    assert x.grad.tolist() == [2.0, 0.0, 12.0]


# --- accumulation ---------------------------------------------------------------------------------
def test_gradients_accumulate_on_leaves_only(device):
    x = _t([1.0, 2.0], device)
    h = x * 3
    (h * h).sum().backward()
    assert x.grad.tolist() == [18.0, 36.0]
    assert h.grad is None  # not a leaf, not retained
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0, 38.0]  # accumulated
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_leaf_grads_do_not_alias_each_other():
    a, b = _t([1.0]), _t([1.0])
    (a + b).sum().backward()
    a.grad.array[0] = 100.0
    assert b.grad.tolist() == [1.0]


def test_retain_grad_keeps_an_intermediate_gradient(device):
    x = _t([1.0, -2.0], device)
    h = x * x
    h.retain_grad()
    (h * 3).sum().backward()
    assert h.grad.tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [6.0, -12.0]


# --- graph freeing ----------------------------------------------------------------------------------
def test_second_backward_through_a_freed_graph_raises(device):
    x = _t([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = _t([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


# --- grad modes ---------------------------------------------------------------------------------------
def test_no_grad_context_records_nothing(device):
    x = _t([1.0], device)
    with tn.no_grad():
        y = x * 2
        assert not tn.is_grad_enabled()
    assert tn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = _t([1.0])

    @tn.no_grad()
    def f(t):
        return t * 2

    @tn.no_grad
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f" and g.__name__ == "g"
    assert tn.is_grad_enabled()


def test_enable_grad_and_set_grad_enabled():
    x = _t([1.0])
    with tn.no_grad():
        with tn.enable_grad():
            assert (x * 2).requires_grad
        with tn.set_grad_enabled(True):
            assert (x * 2).requires_grad
    with tn.set_grad_enabled(False):
        assert not (x * 2).requires_grad


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tn.no_grad():
            1 / 0
    assert tn.is_grad_enabled()


def test_parameter_update_in_no_grad_is_allowed_but_not_outside():
    w = _t([1.0, 2.0])
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1 * w.grad
    with tn.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad


# --- tn.autograd.grad and higher order --------------------------------------------------------------
def test_autograd_grad_returns_gradients_without_touching_dot_grad(device):
    x, y = _t([2.0], device), _t([3.0], device)
    z = (x * x * y).sum()
    gx, gy = tn.autograd.grad(z, [x, y])
    assert gx.tolist() == [12.0] and gy.tolist() == [4.0]
    assert x.grad is None and y.grad is None
    assert tn.autograd.grad((x * 5).sum(), x).tolist() == [5.0]  # a single input gives a single result


def test_second_and_third_derivative_of_x_cubed(device):
    x = _t([1.5, -2.0], device)
    y = (x ** 3).sum()
    (g,) = tn.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy() if not g.requires_grad else g.detach().numpy(), 3 * np.array([1.5, -2.0]) ** 2)
    (gg,) = tn.autograd.grad(g.sum(), [x], create_graph=True)
    np.testing.assert_allclose(gg.detach().numpy(), 6 * np.array([1.5, -2.0]))
    (ggg,) = tn.autograd.grad(gg.sum(), [x])
    np.testing.assert_allclose(ggg.numpy(), [6.0, 6.0])


def test_backward_with_create_graph_gives_a_differentiable_grad(device):
    x = _t([2.0], device)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [12.0]


def test_allow_unused(device):
    x, unused = _t([1.0], device), _t([1.0], device)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tn.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = tn.autograd.grad(y, [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0] and gu is None


def test_grad_outputs_weigh_a_non_scalar_output(device):
    x = _t([1.0, 2.0], device)
    (g,) = tn.autograd.grad(x * x, [x], grad_outputs=[tn.tensor([1.0, -1.0], dtype=tn.float64, device=device)])
    assert g.tolist() == [2.0, -4.0]
    with pytest.raises(RuntimeError, match="grad_outputs"):
        tn.autograd.grad(x * x, [x])


# --- in-place changes to saved tensors -----------------------------------------------------------------
def test_in_place_change_of_a_saved_tensor_is_detected():
    a = _t([1.0, 2.0])
    b = tn.tensor([3.0, 4.0], dtype=tn.float64)
    c = (a * b).sum()
    b.add_(1)  # b does not require grad, so this is allowed, but Mul saved it
    with pytest.raises(RuntimeError, match="modified in place"):
        c.backward()


def test_in_place_change_through_a_reshape_view_is_detected():
    a = _t([1.0, 2.0, 3.0, 4.0])
    b = tn.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tn.float64)
    c = (a * b.reshape(4)).sum()
    view = b.reshape(-1)
    view.mul_(2)  # writes b's memory through a view that shares b's version counter
    with pytest.raises(RuntimeError, match="modified in place"):
        c.backward()


def test_in_place_change_through_a_slice_view_is_detected():
    a = _t([1.0, 2.0])
    b = tn.tensor([3.0, 4.0, 5.0], dtype=tn.float64)
    c = (a * b[:2]).sum()
    b[1:].fill_(0.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        c.backward()


def test_in_place_change_of_an_unsaved_tensor_is_fine():
    a = _t([1.0, 2.0])
    b = tn.tensor([3.0, 4.0], dtype=tn.float64)
    c = (a + b).sum()  # add saves no values
    b.add_(1)
    c.backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_in_place_change_of_a_saved_output_is_detected():
    x = _t([0.5, 1.0])
    y = tn.exp(x)  # exp's backward uses its output
    z = y.detach()
    z.mul_(0)  # detach shares the version counter
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


# --- deep graphs, dtypes, memory ------------------------------------------------------------------------
def test_a_graph_ten_thousand_ops_deep_needs_no_recursion():
    x = _t([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)


def test_gradients_have_their_tensor_dtype_and_shape(device):
    x32 = tn.randn(3, 1, device=device, requires_grad=True)
    y64 = tn.randn(4, dtype=tn.float64, device=device, requires_grad=True)
    out = (x32 * y64).sum()
    assert out.dtype == tn.float64
    out.backward()
    assert x32.grad.dtype == tn.float32 and x32.grad.shape == (3, 1)
    assert y64.grad.dtype == tn.float64 and y64.grad.shape == (4,)
    w = tn.randn(2, 3, device=device, requires_grad=True)
    (w @ tn.randn(3, 5, device=device)).mean().backward()
    assert w.grad.dtype == tn.float32 and w.grad.shape == (2, 3)


def test_float32_stays_float32_through_common_ops(device):
    x = tn.randn(4, 3, device=device, requires_grad=True)
    outs = [x * 2.5, x / 3, x ** 2, x + 1, tn.exp(x), x.mean(0), x.var(1), x.max(1).values, tn.logsumexp(x, 1),
            x[1:], x[[0, 0]], tn.cat([x, x]), tn.pad(x, (1, 1)), x @ x.T]
    for o in outs:
        assert o.dtype == tn.float32, o
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == tn.float32


def _train_steps(n, device="cpu", keep_refs=False):
    tn.manual_seed(0)
    w1 = tn.randn(4, 8, device=device, requires_grad=True)
    w2 = tn.randn(8, 1, device=device, requires_grad=True)
    x = tn.randn(16, 4, device=device)
    y = tn.randn(16, 1, device=device)
    refs = []
    for _ in range(n):
        h = tn.maximum(x @ w1, 0.0)
        loss = ((h @ w2 - y) ** 2).mean()
        if keep_refs:
            refs.append(weakref.ref(loss.grad_fn))
        loss.backward()
        with tn.no_grad():
            w1 -= 0.001 * w1.grad
            w2 -= 0.001 * w2.grad
        w1.grad = None
        w2.grad = None
    return refs


def test_graph_nodes_die_with_their_step_without_the_garbage_collector():
    gc.disable()
    try:
        refs = _train_steps(3000, keep_refs=True)
        assert all(r() is None for r in refs), "a graph node outlived its training step (reference cycle?)"
    finally:
        gc.enable()


def test_memory_stays_flat_over_thousands_of_steps():
    _train_steps(20)  # warm caches
    tracemalloc.start()
    try:
        _train_steps(100)
        first, _ = tracemalloc.get_traced_memory()
        _train_steps(1500)
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one step's graph holds ~10 arrays of 16x8 floats (a few kB): a graph kept alive per step
    # would grow memory by megabytes over 1500 steps
    assert second - first < 200_000, f"memory grew by {second - first} bytes over 1500 steps"


def test_non_leaf_grad_is_not_stored_and_leaf_flags():
    x = _t([1.0])
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    y.sum().backward()
    assert y.grad is None and math.isclose(x.grad.item(), 2.0)
