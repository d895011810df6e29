"""Walks the op registry: forward vs NumPy float64, gradcheck, gradgradcheck, on every device."""
import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Function

from registry import all_entries, build_args

ENTRIES = all_entries()


def _run(entry, args):
    out = entry.fn(*args)
    return out


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_forward_matches_numpy(entry, device):
    if device not in entry.devices or entry.ref is None:
        pytest.skip(f"{entry.name}: no {'reference' if entry.ref is None else device + ' support'} registered")
    raw, args = build_args(entry, device)
    out = _run(entry, args)
    expected = entry.ref(*raw)
    got = out.detach().numpy() if isinstance(out, tn.Tensor) else np.asarray(out)
    assert got.shape == np.shape(expected), f"{entry.name}: shape {got.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, atol=entry.fwd_atol, rtol=1e-6, err_msg=entry.name)
    assert out.device == device


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_gradcheck(entry, device):
    if device not in entry.devices:
        pytest.skip(f"{entry.name}: not registered for {device}")
    _, args = build_args(entry, device)
    assert tn.gradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=entry.mode)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.gradgrad], ids=lambda e: e.name)
def test_gradgradcheck(entry, device):
    if device not in entry.devices:
        pytest.skip(f"{entry.name}: not registered for {device}")
    _, args = build_args(entry, device)
    assert tn.gradgradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=entry.mode)


def _function_classes():
    seen, stack = set(), list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
    return {c for c in seen if not c.__name__.startswith("_") and "forward" in _methods(c)}


def _methods(cls):
    names = set()
    for k in cls.__mro__:
        if k is Function:
            break
        names.update(vars(k))
    return names


def test_every_function_is_in_the_registry():
    """Every Function subclass must be exercised (forward and backward) by some entry."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(tn.__path__, "tinynet."):
        if not info.name.startswith(("tinynet.kernels", "tinynet.cli")):
            importlib.import_module(info.name)  # every op module, so every Function is seen

    exercised = set()
    for entry in ENTRIES:
        _, args = build_args(entry, "cpu")
        out = entry.fn(*args)
        outs = out if isinstance(out, (tuple, list)) else [out]
        stack = [o.grad_fn for o in outs if isinstance(o, tn.Tensor) and o.grad_fn is not None]
        while stack:
            fn = stack.pop()
            if type(fn) in exercised and fn.freed:
                continue
            exercised.add(type(fn))
            stack.extend(t.grad_fn for t in fn.inputs if t.grad_fn is not None and type(t.grad_fn) not in exercised)
    missing = sorted(c.__module__ + "." + c.__qualname__ for c in _function_classes() - exercised)
    assert not missing, f"differentiable ops missing from tests/registry: {missing}"
