"""Walks the op registry (tests/registry): every entry, on every device, across dtypes,
layouts and kernel policies. See tests/registry/__init__.py for the grid and how to add
an entry; ``pytest tests/test_op_registry.py -k <entry name>`` runs one op.
"""
import warnings

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Op

from registry import (KERNEL_FAMILIES, all_entries, apply_policy, build_args, cases, has_layout, policy_cases,
                      transform)

from conftest import DEVICES

ENTRIES = all_entries()


def _params(entries, case_fn=None):
    """(entry, device[, case]) for every available device the entry is registered for."""
    out = []
    for e in entries:
        for d in DEVICES:
            if d not in e.devices:
                continue
            if case_fn is None:
                out.append(pytest.param(e, d, id=f"{d}-{e.name}"))
            else:
                out += [pytest.param(e, d, c, id=f"{d}-{e.name}-{c.id}") for c in case_fn(e, d)]
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


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _host(t):
    return np.asarray(t.detach().numpy())


def _tol(dtype, entry, ref):
    """(atol, rtol) of a comparison with a float64 reference: tight for float64, ``tol32``
    (atol scaled by the reference's largest magnitude) for float32."""
    if dtype == "float64":
        return 1e-9, 1e-7
    atol, rtol = entry.tol32
    finite = np.abs(ref[np.isfinite(ref)]) if np.size(ref) else np.zeros(0)
    return atol * max(1.0, float(finite.max()) if finite.size else 1.0), rtol


def _grads(entry, args, seed=1):
    """Gradients of sum(out * w) (w fixed random weights) w.r.t. the grad-requiring
    tensors of ``args`` as host arrays (zeros where unused), through a plain backward."""
    wrt = [a for a in args if isinstance(a, tn.Tensor) and a.requires_grad]
    outs = [o for o in _outputs(entry.fn(*args)) if isinstance(o, tn.Tensor) and o.requires_grad]
    if not wrt or not outs:
        return outs, []
    rng = np.random.default_rng(seed)
    seeds = [tn.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device) for o in outs]
    gs = tn.autograd.grad(outs, wrt, grad_outputs=seeds, allow_unused=True)
    return outs, [(t, None if g is None else g) for t, g in zip(wrt, gs)]


def _reference_grads(entry, raw):
    """The float64 gradients of the same argument values: cpu, contiguous, shipped policy
    (the path the base case gradchecks)."""
    _, args = build_args(entry, "cpu", raw=raw)
    _, grads = _grads(entry, args)
    return [np.zeros(t.shape) if g is None else _host(g).astype(np.float64) for t, g in grads]


# --- the base case: float64, contiguous ----------------------------------------------------------
@pytest.mark.parametrize("entry,device", _params([e for e in ENTRIES if e.ref is not None]))
def test_forward_matches_numpy(entry, device):
    raw, args = build_args(entry, device)
    out = entry.fn(*args)
    expected = entry.ref(*raw)
    got = out.detach().numpy() if isinstance(out, tn.Tensor) else np.asarray(out)
    assert got.shape == np.shape(expected), f"{entry.name}: shape {got.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, atol=entry.fwd_atol, rtol=1e-6, err_msg=entry.name)
    assert out.device == device


@pytest.mark.parametrize("entry,device", _params(ENTRIES))
def test_gradcheck(entry, device):
    _, args = build_args(entry, device)
    assert tn.gradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=_mode(entry, device))


@pytest.mark.parametrize("entry,device", _params([e for e in ENTRIES if e.gradgrad]))
def test_gradgradcheck(entry, device):
    _, args = build_args(entry, device)
    assert tn.gradgradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=_mode(entry, device))


# --- the grid: dtype x layout x kernel policy ------------------------------------------------------
@pytest.mark.parametrize("entry,device,case", _params(ENTRIES, cases))
def test_case(entry, device, case, monkeypatch):
    """One cell of the grid: forward against the float64 reference, gradients against the
    float64 gradients of the same values. Float64 cases of shape-changing layouts also
    gradcheck (their float64 form is not the base case), and float64 kernel-policy cases
    on cpu gradcheck and gradgradcheck the path they force."""
    with warnings.catch_warnings():
        if case.layout == "empty":  # means of nothing are NaN, as in NumPy and PyTorch
            warnings.filterwarnings("ignore", "Mean of empty slice|invalid value|divide by zero", RuntimeWarning)
        _check_case(entry, device, case, monkeypatch)


def _check_case(entry, device, case, monkeypatch):
    raw = transform(entry, entry.make(np.random.default_rng(0)), case.layout)
    if not has_layout(entry, raw, case.layout):
        pytest.skip(f"layout {case.layout} does not apply to these arguments")
    raw = [a.astype(case.dtype).astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
           for a in raw]
    want_grads = _reference_grads(entry, raw)  # before the policy moves any threshold
    if case.family:
        apply_policy(monkeypatch, device, case.family, case.policy)
    _, args = build_args(entry, device, dtype=case.dtype, layout=case.layout, raw=raw)
    outs, grads = _grads(entry, args)
    if not outs:  # nothing differentiable: forward only
        outs = _outputs(entry.fn(*args))
    out = outs[0]
    what = f"{entry.name} [{device}, {case.id}]"
    assert out.device == device, what
    if entry.keeps_dtype:
        assert out.dtype == case.dtype, f"{what}: output dtype {out.dtype}"
    if entry.ref is not None:
        expected = np.asarray(entry.ref(*raw), dtype=np.float64)
        got = _host(out)
        assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
        atol, rtol = _tol(case.dtype, entry, expected)
        atol = max(atol, entry.fwd_atol)
        np.testing.assert_allclose(got.astype(np.float64), expected, atol=atol, rtol=rtol, err_msg=f"{what}: forward")
    for k, ((t, g), want) in enumerate(zip(grads, want_grads)):
        got = np.zeros(t.shape) if g is None else _host(g)
        if g is not None:
            assert g.dtype == t.dtype and g.shape == t.shape, f"{what}: gradient {k} is {g.dtype} {g.shape}"
        atol, rtol = _tol(case.dtype, entry, want)
        np.testing.assert_allclose(got.astype(np.float64), want, atol=atol, rtol=rtol,
                                   err_msg=f"{what}: gradient of input {k} vs float64 contiguous cpu")
    if case.dtype != "float64":
        return
    if case.shape_changing:
        assert tn.gradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=_mode(entry, device))
    elif case.family and device == "cpu":  # the path's own derivatives, second order included
        assert tn.gradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=entry.mode)
        if entry.gradgrad:
            assert tn.gradgradcheck(entry.fn, args, eps=entry.eps, atol=entry.atol, rtol=entry.rtol, mode=entry.mode)


# --- the two gradient forms ---------------------------------------------------------------------------
def _graph_nodes(outs):
    """Every Op node reachable from ``outs``."""
    seen, order, stack = set(), [], [o.grad_fn for o in outs if o.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        order.append(fn)
        stack.extend(t.grad_fn for t in fn.inputs if t.grad_fn is not None)
    return order


def _compare_forms(fn, g, dtype):
    """Differences between ``fn.backward_array(g)`` and ``fn.backward(Tensor g)`` (the
    Tensor formula, with recording on as under create_graph=True), as strings; ``g`` is a
    host array."""
    dev = fn.device
    with tn.no_grad():
        arr = fn.backward_array(dev.from_host(g))
    with tn.enable_grad():
        ten = fn.backward(tn.tensor(g, device=dev))
    arr = arr if isinstance(arr, tuple) else (arr,)
    ten = ten if isinstance(ten, tuple) else (ten,)
    problems = []
    if len(arr) != len(ten):
        return [f"backward_array returns {len(arr)} gradients, backward {len(ten)}"]
    for k, (inp, a, t) in enumerate(zip(fn.inputs, arr, ten)):
        if not inp.requires_grad or (a is None and t is None):
            continue
        if a is None or t is None:
            problems.append(f"input {k}: backward_array gives {'None' if a is None else 'an array'}, "
                            f"backward {'None' if t is None else 'a Tensor'}")
            continue
        ta = _host(t)
        aa = np.asarray(dev.to_host(a))
        if aa.dtype != ta.dtype:
            problems.append(f"input {k}: dtype backward_array {aa.dtype} vs backward {ta.dtype} "
                            f"(input {inp.dtype})")
        if aa.shape != ta.shape:
            problems.append(f"input {k}: shape backward_array {aa.shape} vs backward {ta.shape}")
            continue
        scale = max(1.0, float(np.abs(ta).max()) if ta.size else 1.0)
        atol, rtol = (1e-12 * scale, 1e-9) if dtype == "float64" else (1e-5 * scale, 1e-4)
        if not np.allclose(aa.astype(np.float64), ta.astype(np.float64), atol=atol, rtol=rtol, equal_nan=True):
            err = float(np.abs(aa.astype(np.float64) - ta.astype(np.float64)).max())
            problems.append(f"input {k}: values differ (max abs difference {err:.3g})")
    return problems


def _has_both_forms(fn) -> bool:
    """A node with a Tensor formula (its class overrides ``backward``) and an array formula."""
    return getattr(fn, "backward_array", None) is not None and type(fn).backward is not Op.backward


def _two_form_entries():
    """The entries whose graph (built once on cpu, float64) has a node with both forms."""
    chosen = []
    for entry in ENTRIES:
        _, args = build_args(entry, "cpu")
        outs = [o for o in _outputs(entry.fn(*args)) if isinstance(o, tn.Tensor) and o.requires_grad]
        if any(_has_both_forms(fn) for fn in _graph_nodes(outs)):
            chosen.append(entry)
    return chosen


@pytest.mark.parametrize("entry,device,case", _params(_two_form_entries(), policy_cases))
def test_backward_forms_agree(entry, device, case, monkeypatch):
    """For every node of the op's graph with a ``backward_array``, the array fast path and
    the Tensor formula ``backward`` agree in values, dtype and shape."""
    if case.family:
        apply_policy(monkeypatch, device, case.family, case.policy)
    _, args = build_args(entry, device, dtype=case.dtype)
    outs = [o for o in _outputs(entry.fn(*args)) if isinstance(o, tn.Tensor) and o.requires_grad]
    rng = np.random.default_rng(2)
    problems, checked = [], 0
    for fn in _graph_nodes(outs):
        if not _has_both_forms(fn):
            continue  # one form only (a fused-kernel-only backward has no Tensor formula)
        checked += 1
        g = rng.standard_normal(np.shape(fn.out)).astype(fn.out.dtype)
        problems += [f"{type(fn).__name__}: {p}" for p in _compare_forms(fn, g, case.dtype)]
    assert checked, f"{entry.name} [{device}, {case.id}]: no node with both gradient forms on this path"
    assert not problems, f"{entry.name} [{device}, {case.id}]: backward and backward_array disagree:\n  " + \
        "\n  ".join(problems)


# --- the registry itself -------------------------------------------------------------------------------
def _function_classes():
    seen, stack = set(), list(Op.__subclasses__())
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
        if k is Op:
            break
        names.update(vars(k))
    return names


def test_every_function_is_in_the_registry():
    """Every Op subclass must be exercised (forward and backward) by some entry."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(tn.__path__, "tinynet."):
        if not info.name.startswith(("tinynet.kernels", "tinynet.cli")) and not info.name.endswith("__main__"):
            importlib.import_module(info.name)  # every op module, so every Op is seen

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


def test_entries_declare_their_kernel_families(monkeypatch):
    """An entry's ``kernel_families`` are exactly the families of the kernels its op calls
    (forward and plain backward, with every fused kernel switched on), so the grid crosses
    every threshold that applies to it. A new kernel must be added to KERNEL_FAMILIES."""
    dev = tn.device("cpu")
    for family in list(dev.kernels.KERNEL_MIN_ELEMENTS):
        monkeypatch.setitem(dev.kernels.KERNEL_MIN_ELEMENTS, family, 0)
    calls = set()

    def spy(name, real):
        def call(*a, **k):
            calls.add(name)
            return real(*a, **k)
        return call

    for name in KERNEL_FAMILIES:
        monkeypatch.setattr(dev.kernels, name, spy(name, getattr(dev.kernels, name)), raising=False)
    wrong = []
    for entry in ENTRIES:
        if "cpu" not in entry.devices:
            continue
        calls.clear()
        _, args = build_args(entry, "cpu")
        _grads(entry, args)
        used = {KERNEL_FAMILIES[n] for n in calls}
        if used != set(entry.kernel_families):
            wrong.append(f"{entry.name}: calls {sorted(used)}, declares {sorted(entry.kernel_families)}")
    assert not wrong, "kernel_families do not match the kernels called:\n  " + "\n  ".join(wrong)
