"""One gradient formula per op and per form.

Every op has one Tensor formula (``backward``: differentiable, what ``create_graph=True``
runs) and at most one array formula (``backward_array``: the plain ``backward()``'s fast
path). Neither looks at the grad mode to pick between two formulas; an op whose only
backward is a fused kernel defines ``backward_array`` alone and says so under
``create_graph``. (That the two forms agree is checked op by op in test_op_registry.py.)
"""
import ast
import inspect
import textwrap

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Op

from conftest import function_classes


def _function_classes():
    return function_classes()


GRAD_MODE_NAMES = {"is_grad_enabled", "STATE", "set_grad_enabled", "no_grad", "enable_grad"}


@pytest.mark.parametrize("cls", _function_classes(), ids=lambda c: c.__name__)
def test_no_backward_branches_on_the_grad_mode(cls):
    for method in ("backward", "backward_array"):
        fn = vars(cls).get(method)
        if not callable(fn):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
               {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not used & GRAD_MODE_NAMES, \
            f"{cls.__qualname__}.{method} consults the grad mode ({sorted(used & GRAD_MODE_NAMES)}): " \
            "the Tensor formula belongs in backward, the array formula in backward_array"


@pytest.mark.parametrize("cls", [c for c in _function_classes() if c.backward_array is not None],
                         ids=lambda c: c.__name__)
def test_ops_with_an_array_formula_keep_a_differentiable_one(cls):
    """Every op of tinynet that has ``backward_array`` also has its own Tensor ``backward``
    (none relies on the base class's "fused kernel only" error)."""
    assert any("backward" in vars(k) for k in cls.__mro__ if k is not Op), cls.__qualname__


class _FusedOnly(Op):
    """An op whose backward is a fused kernel only: y = 3 x, dx = 3 g on arrays."""

    name = "fused_only"
    saves_values = False

    def forward(self, x):
        return 3 * x

    def backward_array(self, g):
        return 3 * g


def test_an_op_with_only_an_array_backward_says_so_under_create_graph():
    x = tn.tensor([1.0, 2.0], dtype=tn.float64, requires_grad=True)
    _FusedOnly.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    y = _FusedOnly.apply(x).sum()
    with pytest.raises(RuntimeError, match="fused_only: its backward is a fused kernel.*create_graph=True"):
        tn.autograd.grad(y, x, create_graph=True)


def test_create_graph_runs_the_tensor_formula_and_plain_backward_the_array_one(monkeypatch):
    from tinynet.functional.activation import Sigmoid

    calls = []
    monkeypatch.setattr(Sigmoid, "backward", lambda self, g, real=Sigmoid.backward: calls.append("tensor") or real(self, g))
    monkeypatch.setattr(Sigmoid, "backward_array",
                        lambda self, g, real=Sigmoid.backward_array: calls.append("array") or real(self, g))
    x = tn.tensor([0.5, -1.0], dtype=tn.float64, requires_grad=True)
    tn.sigmoid(x).sum().backward()
    assert calls == ["array"]
    calls.clear()
    (g,) = tn.autograd.grad(tn.sigmoid(x).sum(), [x], create_graph=True)
    assert calls == ["tensor"] and g.requires_grad
