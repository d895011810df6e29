"""Numerical gradient checking: compare autograd's gradients with finite differences.

For an input x and a function f, the central difference

    (f(x + eps*u) - f(x - eps*u)) / (2*eps)  ~=  J(x) u

estimates the directional derivative with error O(eps^2). Two modes:

* ``mode="full"``: the whole Jacobian, one input element at a time (small inputs);
* ``mode="random"``: a few random directions u (inputs) and v (outputs), comparing
  v . (J u) with u . (J^T v) from one backward pass. Cheap at any size, and a wrong
  gradient is caught with probability 1.

Checks run in float64 (float32 rounding swamps the finite difference). A failure
raises :class:`GradcheckError` with eps, tolerances, the inputs and the numeric and
analytic values.
"""
from __future__ import annotations

import numpy as np

from .engine import grad as _grad


class GradcheckError(AssertionError):
    """A gradient check failed; the message is the full report."""


def _tensors(inputs):
    return [t for t in inputs if hasattr(t, "_requires_grad") and t._requires_grad]


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _host(t):
    return np.asarray(t.device.to_host(t.array), dtype=np.float64)


def _report(title, eps, atol, rtol, inputs, numeric, analytic, extra=""):
    np.set_printoptions(precision=6, threshold=60, edgeitems=3, suppress=False)
    lines = [f"gradcheck failed: {title}", f"  eps={eps:g}  atol={atol:g}  rtol={rtol:g}"]
    for i, t in enumerate(inputs):
        if hasattr(t, "array") and hasattr(t, "device"):
            lines.append(f"  input {i}: shape {tuple(t.shape)} dtype {t.dtype} requires_grad={t.requires_grad}\n    {_host(t)}")
        else:
            lines.append(f"  input {i}: {t!r}")
    lines.append(f"  numeric:  {np.asarray(numeric)}")
    lines.append(f"  analytic: {np.asarray(analytic)}")
    if extra:
        lines.append("  " + extra)
    return "\n".join(lines)


def _check_float64(fn_name, inputs):
    for t in _tensors(inputs):
        if t.dtype != np.float64:
            raise TypeError(
                f"{fn_name}: inputs that require grad must be float64 (got {t.dtype}); finite differences "
                "in float32 are too noisy. Use `x.double()` or `tn.tensor(..., dtype=tn.float64)`."
            )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", n_directions=3,
              seed=0, raise_exception=True, check_dtypes=True):
    """Check autograd's gradients of ``fn(*inputs)`` against finite differences.

    ``inputs`` is a tuple; the Tensors in it with ``requires_grad=True`` are checked.
    ``mode`` is "full" (whole Jacobian), "random" (random directions) or "auto" (full up
    to 64 input elements, random beyond). Returns True, or raises GradcheckError with a
    report (or returns False when ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    _check_float64("gradcheck", inputs)
    wrt = _tensors(inputs)
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    outs_req = [o for o in outs if o.requires_grad]
    if not outs_req:
        raise GradcheckError("gradcheck: no output requires grad, so the function is not differentiable w.r.t. its inputs")
    if check_dtypes:
        for o in outs_req:
            if o.dtype != np.float64:
                raise GradcheckError(f"gradcheck: output dtype {o.dtype} is not float64 for float64 inputs")
    # Random output weights v make a scalar L = sum_k <v_k, out_k>.
    weights = [rng.standard_normal(o.shape) for o in outs_req]

    def scalar():
        # Graph recording stays on: fn may itself take gradients (gradgradcheck).
        res = [o for o, ref in zip(_outputs(fn, inputs), outs) if ref.requires_grad]
        return sum(float((_host(o) * w).sum()) for o, w in zip(res, weights))

    seeds = [o._make(o.device.from_host(w.astype(np.float64)) if o.device.xp is not np else w.astype(np.float64), o.device) for o, w in zip(outs_req, weights)]
    analytic = _grad(outs_req, wrt, grad_outputs=seeds, allow_unused=True)
    analytic = [np.zeros(t.shape) if a is None else _host(a) for t, a in zip(wrt, analytic)]
    for t, a in zip(wrt, analytic):
        if a.shape != tuple(t.shape):
            raise GradcheckError(f"gradcheck: gradient shape {a.shape} differs from input shape {tuple(t.shape)}")
    total = sum(t.array.size for t in wrt)
    if mode == "auto" or total == 0:  # no input elements: the (empty) Jacobian is checked in full
        mode = "full" if total <= 64 else "random"
    ok = True
    msg = ""
    if mode == "full":
        for k, (t, a) in enumerate(zip(wrt, analytic)):
            num = np.zeros(t.shape)
            flat_index = list(np.ndindex(*t.shape))
            for idx in flat_index:
                orig = t.array[idx].copy()
                t.array[idx] = orig + eps
                fp = scalar()
                t.array[idx] = orig - eps
                fm = scalar()
                t.array[idx] = orig
                num[idx] = (fp - fm) / (2 * eps)
            if not np.allclose(num, a, atol=atol, rtol=rtol):
                ok = False
                err = np.abs(num - a).max() if num.size else 0.0
                pos = next(i for i, x in enumerate(inputs) if x is t)
                msg = _report(f"input {pos} (full Jacobian, random output weights)", eps, atol, rtol, inputs, num, a, f"max abs error {err:.3g}")
                break
    elif mode == "random":
        for _ in range(n_directions):
            dirs = [rng.standard_normal(t.shape) for t in wrt]
            saved = [t.array.copy() for t in wrt]
            for t, d, s in zip(wrt, dirs, saved):
                t.array[...] = s + eps * _as_dev(t, d)
            fp = scalar()
            for t, d, s in zip(wrt, dirs, saved):
                t.array[...] = s - eps * _as_dev(t, d)
            fm = scalar()
            for t, s in zip(wrt, saved):
                t.array[...] = s
            num = (fp - fm) / (2 * eps)
            ana = sum(float((a * d).sum()) for a, d in zip(analytic, dirs))
            if not np.isclose(num, ana, atol=atol, rtol=rtol):
                ok = False
                msg = _report("random direction u: v.(J u) numeric vs u.(J^T v) analytic", eps, atol, rtol,
                              inputs, num, ana)
                break
    else:
        raise ValueError(f"gradcheck: mode must be 'full', 'random' or 'auto', got {mode!r}")
    if not ok:
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True


def _as_dev(t, host_array):
    return host_array if t.device.xp is np else t.device.from_host(host_array)


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto",
                  n_directions=3, seed=0, raise_exception=True):
    """Check second derivatives: gradcheck of the map (inputs, v) -> J(inputs)^T v.

    The backward pass is run with ``create_graph=True`` so its result is differentiable;
    ``v`` (``grad_outputs``, random by default) is checked as an input too.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    _check_float64("gradgradcheck", inputs)
    rng = np.random.default_rng(seed + 1)
    outs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        grad_outputs = []
        for o in outs:
            w = rng.standard_normal(o.shape)
            g = o._make(_as_dev(o, w), o.device, False)
            g.requires_grad_(True)
            grad_outputs.append(g)
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    n_in = len(inputs)
    wrt_idx = [i for i, t in enumerate(inputs) if hasattr(t, "_requires_grad") and t._requires_grad]

    def first_derivative(*args):
        xs, vs = args[:n_in], args[n_in:]
        ys = [o for o in _outputs(fn, xs) if o.requires_grad]
        gs = _grad(ys, [xs[i] for i in wrt_idx], grad_outputs=list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None and g.requires_grad)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     mode=mode, n_directions=n_directions, seed=seed, raise_exception=raise_exception)
