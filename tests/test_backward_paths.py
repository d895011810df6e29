"""The engine's two backward paths agree.

Without ``create_graph`` the engine walks the graph on raw arrays and calls each node's
``backward_array`` (or wraps its Tensor ``backward``); with ``create_graph`` every
gradient is built from differentiable Tensor ops. Both must give the same numbers for
every registered op, and the array path must keep the Tensor path's rules: leaves own
their gradients, gradients accumulate, ``retain_grad`` and ``autograd.grad`` work.
"""
import numpy as np
import pytest

import tinynet as tn
from registry import all_entries, build_args

ENTRIES = [e for e in all_entries() if e.gradgrad]


def _grads(entry, args, create_graph):
    out = entry.fn(*args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    outs = [o for o in outs if isinstance(o, tn.Tensor) and o.requires_grad]
    wrt = [a for a in args if isinstance(a, tn.Tensor) and a.requires_grad]
    if not outs or not wrt:
        pytest.skip(f"{entry.name}: nothing differentiable")
    rng = np.random.default_rng(1)
    seeds = [tn.tensor(rng.standard_normal(o.shape), dtype=o.dtype) for o in outs]
    tn.manual_seed(0)
    return tn.autograd.grad(outs, wrt, grad_outputs=seeds, create_graph=create_graph, allow_unused=True)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_array_path_matches_tensor_path(entry):
    _, args = build_args(entry, "cpu")
    tn.manual_seed(0)
    fast = _grads(entry, args, create_graph=False)
    _, args = build_args(entry, "cpu")
    tn.manual_seed(0)
    slow = _grads(entry, args, create_graph=True)
    for f, s in zip(fast, slow):
        assert (f is None) == (s is None), entry.name
        if f is not None:
            assert f.dtype == s.dtype and f.shape == s.shape, entry.name
            np.testing.assert_allclose(f.numpy(), s.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=entry.name)


def test_leaves_own_their_gradients():
    a = tn.tensor([1.0, 2.0], requires_grad=True)
    b = tn.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add sends the same gradient array to both inputs
    a.grad.array[0] = 100.0
    assert b.grad.tolist() == [1.0, 1.0]
    c = tn.tensor([[1.0, 2.0]], requires_grad=True)
    c.sum().backward()  # Sum's gradient is a broadcast view: the leaf gets a copy
    c.grad.array[0, 0] = 5.0
    assert c.grad.tolist() == [[5.0, 1.0]]


def test_gradients_accumulate_and_keep_dtype():
    x = tn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for _ in range(2):
        (x * x).sum().backward()
    assert x.grad.dtype == tn.float32
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])


def test_retain_grad_and_grad_of_intermediate():
    x = tn.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, -12.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, -36.0])
    x2 = tn.tensor([1.0, -2.0], requires_grad=True)
    h2 = x2 * 3
    gh, gx = tn.autograd.grad((h2 * h2).sum(), [h2, x2])
    np.testing.assert_allclose(gh.numpy(), [6.0, -12.0])
    np.testing.assert_allclose(gx.numpy(), [18.0, -36.0])
    assert x2.grad is None


def test_ops_that_save_no_values_allow_inplace_changes():
    # Like PyTorch: a + b's backward needs no values, so changing b afterwards is fine ...
    a = tn.tensor([1.0, 2.0], requires_grad=True)
    b = tn.tensor([3.0, 4.0])
    y = (a + b).sum()
    b += 1
    y.backward()
    assert a.grad.tolist() == [1.0, 1.0]
    # ... but a * b saved b, so the same change is caught.
    a = tn.tensor([1.0, 2.0], requires_grad=True)
    b = tn.tensor([3.0, 4.0])
    y = (a * b).sum()
    b += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_second_backward_through_freed_graph_raises():
    x = tn.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
