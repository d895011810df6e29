"""Walks the op registry: forward vs NumPy float64, gradcheck, gradgradcheck, on every device."""
import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Function

from registry import all_entries, build_args

from conftest import DEVICES

ENTRIES = all_entries()


def _cases(entries):
    """(entry, device) pairs for every available device the entry is registered for."""
    return [pytest.param(e, d, id=f"{d}-{e.name}") for e in entries for d in DEVICES if d in e.devices]


def _run(entry, args):
    out = entry.fn(*args)
    return out


def _mode(entry, device):
    """Full Jacobians on cpu; random directions on the simulated GPU.

    The simulator runs every kernel thread in Python, so a per-element Jacobian of a
    conv or pool costs minutes there. The cpu run checks each element; on cuda, three
    random directions (each catching any wrong gradient with probability 1) check that
    the device path computes the same derivative.
    """
    if device == "cuda" and tn.cuda.is_simulated() and entry.mode == "auto":
        return "random"
    return entry.mode


@pytest.mark.parametrize("entry,device", _cases([e for e in ENTRIES if e.ref is not None]))
def test_forward_matches_numpy(entry, device):
    raw, args = build_args(entry, device)
    out = _run(entry, args)
    expected = entry.ref(*raw)
    got = out.detach().numpy() if isinstance(out, tn.Tensor) else np.asarray(out)
    assert got.shape == np.shape(expected), f"{entry.name}: shape {got.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, atol=entry.fwd_atol, rtol=1e-6, err_msg=entry.name)
    assert out.device == device


@pytest.mark.parametrize("entry,device", _cases(ENTRIES))
def test_gradcheck(entry, device):
    _, args = build_args(entry, device)
    assert tn.gradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=_mode(entry, device))


@pytest.mark.parametrize("entry,device", _cases([e for e in ENTRIES if e.gradgrad]))
def test_gradgradcheck(entry, device):
    _, args = build_args(entry, device)
    assert tn.gradgradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=_mode(entry, device))


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
        if not info.name.startswith(("tinynet.kernels", "tinynet.cli")) and not info.name.endswith("__main__"):
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
