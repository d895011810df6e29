"""L-BFGS (Nocedal, 1980; Liu & Nocedal, 1989), PyTorch's implementation (after minFunc),
with its optional strong-Wolfe line search."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..backend.errors import DeviceError
from ..tensor.tensor import Tensor
from .optimizer import Optimizer, _as_count, _as_number, check_hyper

_STATE_KEYS = ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
               "prev_loss", "al")


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clipped to ``bounds`` (default: between x1 and x2); the bounds' midpoint when the cubic
    has no minimiser (a negative discriminant)."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions,

        f(x + t·d) ≤ f + c1·t·gtd          (sufficient decrease)
        |∇f(x + t·d)·d| ≤ −c2·gtd           (curvature),

    found as in PyTorch (Nocedal & Wright, algorithms 3.5 and 3.6): grow ``t`` by cubic
    extrapolation until a bracket holds a point that satisfies them, then shrink the bracket
    by cubic interpolation (``zoom``), safeguarded against steps too close to its ends.
    ``obj_func(x, t, d)`` returns ``(loss, flat_grad)`` at ``x + t·d``. Returns
    ``(f_new, g_new, t, evaluations)``."""
    d_norm = float(abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float((g_new * d).sum())
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: a step between 1.01·t and 10·t from the cubic through the last two points
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float((g_new * d).sum())
        ls_iter += 1
    if ls_iter == max_ls:  # reached the evaluation budget without a bracket
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # safeguard: stay at least 10% of the bracket away from its ends when progress stalls
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float((g_new * d).sum())
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """PyTorch's L-BFGS: a quasi-Newton method that approximates the inverse Hessian from the
    last ``history_size`` pairs (s = step taken, y = change of gradient), applied with the
    two-loop recursion; each ``step(closure)`` runs up to ``max_iter`` iterations and
    ``max_eval`` evaluations of ``closure`` (which must clear the gradients, compute the loss,
    call ``backward()`` and return the loss; it is called again at every trial point).

    Per iteration, with g the flat gradient of all parameters::

        d = −H·g                      two-loop recursion over (s, y), H₀ = (s·y)/(y·y)·I
        t = min(1, 1/‖g‖₁)·lr  (first iteration ever)   else   t = lr
        x ← x + t·d                   or, line_search_fn='strong_wolfe', t from a strong-Wolfe search

    It stops early when ``max|g| <= tolerance_grad``, when ``max|t·d|`` or the change of loss
    falls below ``tolerance_change``, or when ``g·d > −tolerance_change`` (no descent).
    ``max_eval`` defaults to ``max_iter * 5 // 4``. Only one parameter group (as in PyTorch),
    all parameters on one device with one dtype. The state (of the first parameter, in
    PyTorch's layout) holds ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``, so a
    step can resume where another (or PyTorch's) stopped.
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval=None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100, line_search_fn=None):
        if max_eval is None and isinstance(max_iter, int) and not isinstance(max_iter, bool):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]
        first = self._params[0]
        for i, p in enumerate(self._params):
            if p.device != first.device:
                raise DeviceError(f"LBFGS: all parameters must be on one device: parameter 0 is on {first.device}, "
                                  f"parameter {i} on {p.device}; move the model to one device first")
            if p.dtype != first.dtype:
                raise TypeError(f"LBFGS: all parameters must have one dtype: parameter 0 is {first.dtype}, "
                                f"parameter {i} is {p.dtype}; convert the model to one dtype first")
        self._numel = sum(int(p.numel()) for p in self._params)

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): it keeps one "
                             "group; put every parameter in it")
        super().add_param_group(param_group)

    def _validate_group(self, group):
        super()._validate_group(group)
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Invalid {key} value: {v!r} (invalid {key}: expected an int >= 1)")
        check_hyper("tolerance_grad", group["tolerance_grad"])
        check_hyper("tolerance_change", group["tolerance_change"])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"Invalid line_search_fn value: {group['line_search_fn']!r} (only 'strong_wolfe' "
                             "or None are supported)")

    # --- flat views of all parameters ---------------------------------------------------
    def _gather_flat_grad(self):
        xp = self._params[0].device.xp
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(xp.zeros(int(p.numel()), dtype=p.array.dtype))
            else:
                views.append(p.grad.array.astype(p.array.dtype, copy=False).reshape(-1))
        return xp.concatenate(views, 0)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            n = int(p.numel())
            p.array[...] += (step_size * update[offset:offset + n]).reshape(p.array.shape)
            p._bump()
            offset += n

    def _clone_param(self):
        return [p.array.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, data in zip(self._params, params_data):
            p.array[...] = data
            p._bump()

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # --- the step -----------------------------------------------------------------------------
    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` is required (it re-evaluates
        the model and returns the loss). Returns the loss of the first evaluation."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step() needs a closure: a function that clears the gradients, computes the loss, "
                            "calls loss.backward() and returns the loss (L-BFGS evaluates it several times per step)")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        device = self._params[0].device

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        if float(abs(flat_grad).max()) <= tolerance_grad:  # already optimal
            return orig_loss

        arr = lambda v: None if v is None else v.array  # noqa: E731
        d, t = arr(state.get("d")), state.get("t")
        old_dirs = [v.array for v in state.get("old_dirs", [])]
        old_stps = [v.array for v in state.get("old_stps", [])]
        ro, H_diag = list(state.get("ro", [])), state.get("H_diag")
        prev_flat_grad, prev_loss = arr(state.get("prev_flat_grad")), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float((y * s).sum())
                if ys > 1e-10:  # keep the pair only if the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float((y * y).sum())
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float((old_stps[i] * q).sum()) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = float((old_dirs[i] * r).sum()) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # the step size
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float((flat_grad * d).sum())
            if gtd > -tolerance_change:  # not a descent direction
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluate, unless this was the last iteration
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(abs(d * t).max()) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        wrap = lambda a: Tensor._make(a, device)  # noqa: E731
        state["d"] = wrap(d)
        state["t"] = t
        state["old_dirs"] = [wrap(a) for a in old_dirs]
        state["old_stps"] = [wrap(a) for a in old_stps]
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss

    # --- saving and loading -----------------------------------------------------------------
    def state_dict(self):
        """PyTorch's layout; the lists (``old_dirs``, ``ro``...) are copies."""
        out = super().state_dict()
        for entry in out["state"].values():
            for k, v in entry.items():
                if isinstance(v, list):
                    entry[k] = [x.detach() if isinstance(x, Tensor) else x for x in v]
        return out

    def _load_param_state(self, i, p, saved, problems):
        """LBFGS's state: counts, numbers (0-d tensors too, as PyTorch saves them), flat
        vectors of the parameters' total size, and lists of them."""
        if not isinstance(saved, dict):
            problems.append(f"parameter {i}: state must be a dict, got {type(saved).__name__}")
            return None
        unexpected = sorted(map(str, set(saved) - set(_STATE_KEYS)))
        if unexpected:
            problems.append(f"parameter {i}: state has unexpected keys {unexpected}; LBFGS's are {list(_STATE_KEYS)}")
            return None
        n, entry = len(problems), {}
        numel, dtype = self._numel, self._params[0].array.dtype

        def vector(key, v):
            try:
                host = v.device.to_host(v.array) if isinstance(v, Tensor) else np.asarray(v)
            except (TypeError, ValueError, RuntimeError) as exc:
                problems.append(f"parameter {i}: state {key!r} could not be read as an array ({exc})")
                return None
            if host.shape != (numel,) or host.dtype.kind != "f":
                problems.append(f"parameter {i}: state {key!r} must be a flat floating vector of the parameters' "
                                f"total size {numel}, got shape {tuple(host.shape)} dtype {host.dtype}")
                return None
            return Tensor._make(p.device.from_host(host.astype(dtype)), p.device)

        def number(key, v, allow_none=False):
            if v is None and allow_none:
                return None
            out = _as_number(v)
            if out is None:
                problems.append(f"parameter {i}: state {key!r} must be a finite number, got {v!r}")
            return out

        for k, v in saved.items():
            if k in ("func_evals", "n_iter"):
                entry[k] = _as_count(v)
                if entry[k] is None:
                    problems.append(f"parameter {i}: {k} must be a whole number >= 0, got {v!r}")
            elif k in ("d", "prev_flat_grad"):
                entry[k] = vector(k, v)
            elif k in ("t", "H_diag", "prev_loss"):
                entry[k] = number(k, v)
            elif not isinstance(v, (list, tuple)):
                problems.append(f"parameter {i}: state {k!r} must be a list, got {type(v).__name__}")
            elif k in ("old_dirs", "old_stps"):
                entry[k] = [vector(f"{k}[{j}]", x) for j, x in enumerate(v)]
            else:  # ro, al
                entry[k] = [number(f"{k}[{j}]", x, allow_none=(k == "al")) for j, x in enumerate(v)]
        if len(problems) == n:
            lengths = {k: len(entry[k]) for k in ("old_dirs", "old_stps", "ro") if k in entry}
            if len(set(lengths.values())) > 1:
                problems.append(f"parameter {i}: old_dirs, old_stps and ro must have one length, got {lengths}")
        return entry if len(problems) == n else None
