"""Adafactor (Shazeer & Stern, 2018): Adam-like steps with factored second moments, PyTorch's form."""
from __future__ import annotations

import math

from ..tensor.tensor import Tensor
from .optimizer import Optimizer, check_hyper, check_switches


class Adafactor(Optimizer):
    """PyTorch's ``torch.optim.Adafactor``. For a parameter of 2 or more dims the second
    moment of its (last two dims) ``R×C`` gradient is kept *factored*: a row vector
    ``row_var`` (shape ``(..., R, 1)``) and a column vector ``col_var`` (``(..., 1, C)``),
    O(R + C) memory instead of O(R·C); vectors keep a full ``variance``. At step t, with
    ``g`` the gradient (negated when ``maximize``), ``eps = (eps1, eps2)`` (``eps1=None``:
    the dtype's machine epsilon)::

        β̂ = t^beta2_decay                      (1 − β₂ₜ: a decay that forgets more slowly)
        ρ = min(lr, 1/√t);   α = max(eps2, RMS(p)) · ρ      (a relative step size)
        p ← p·(1 − lr·weight_decay)
        row_var ← lerp(row_var, mean(g², dim=-1), β̂);  col_var ← lerp(col_var, mean(g², dim=-2), β̂)
        v̂ = row_var @ col_var / max(mean(row_var, dim=-2), eps1)       (variance ← lerp(variance, g², β̂) for 1-d)
        u = g / √max(v̂, eps1²);   p ← p − α / max(1, RMS(u)/d) · u

    State per parameter: ``step`` and either ``row_var``/``col_var`` or ``variance``
    (PyTorch's names and shapes). ``foreach`` None/False is what runs; ``foreach=True``
    raises ValueError.
    """

    _state_required = ("step",)
    _state_optional = ("row_var", "col_var", "variance")

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps=(None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach=None, maximize: bool = False):
        check_switches("Adafactor", foreach=foreach)
        eps = tuple(eps) if isinstance(eps, list) else eps
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("beta2_decay", group["beta2_decay"], low=None)
        if group["beta2_decay"] > 0:
            raise ValueError(f"beta2_decay should be <= 0 but is: {group['beta2_decay']}")
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise TypeError(f"eps must be a pair (eps1 or None, eps2), got {eps!r}")
        if eps[0] is not None:
            check_hyper("eps[0]", eps[0], label="epsilon1")
        check_hyper("eps[1]", eps[1], label="epsilon2")
        check_hyper("d", group["d"], low=None)
        if group["d"] < 1:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {group['d']}")
        check_hyper("weight_decay", group["weight_decay"])

    def _state_shape(self, p, key):
        shape = list(p.shape)
        if key == "row_var" and len(shape) > 1:
            shape[-1] = 1
        elif key == "col_var" and len(shape) > 1:
            shape[-2] = 1
        return tuple(shape)

    def _load_param_state(self, i, p, saved, problems):
        entry = super()._load_param_state(i, p, saved, problems)
        if entry is not None:
            want = {"row_var", "col_var"} if len(p.shape) > 1 else {"variance"}
            have = set(entry) - {"step"}
            if have != want:
                problems.append(f"parameter {i}: Adafactor's state for a parameter of shape {tuple(p.shape)} holds "
                                f"{sorted(want)}, got {sorted(have)}")
                return None
        return entry

    def _update_group(self, group):
        lr, d, wd = float(group["lr"]), group["d"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = p.device.xp
            param = p.array
            if eps1 is None:  # as PyTorch: the first parameter's dtype sets it for the group
                eps1 = float(xp.finfo(param.dtype).eps)
            grad = p.grad.array
            if grad.dtype != param.dtype:
                grad = grad.astype(param.dtype)
            if tuple(grad.shape) != tuple(param.shape):
                raise ValueError(f"Adafactor: a gradient of shape {tuple(grad.shape)} for a parameter of shape "
                                 f"{tuple(param.shape)}")
            if group["maximize"]:
                grad = -grad
            factored = grad.ndim > 1
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                if factored:
                    state["row_var"] = self._zeros_shaped(p, self._state_shape(p, "row_var"))
                    state["col_var"] = self._zeros_shaped(p, self._state_shape(p, "col_var"))
                else:
                    state["variance"] = self._zeros_like(p)
            state["step"] += 1
            t = float(state["step"])
            beta_hat = t ** group["beta2_decay"]
            rho = min(lr, 1 / t ** 0.5)
            numel = max(param.size, 1)
            alpha = max(eps2, float(xp.sqrt(xp.sum(param * param))) / numel ** 0.5) * rho
            if wd != 0:
                param *= 1 - lr * wd
            if factored:
                row_var = self._state_shaped(p, state, "row_var")
                col_var = self._state_shaped(p, state, "col_var")
                sq = grad * grad
                row_var += beta_hat * (xp.mean(sq, axis=-1, keepdims=True) - row_var)
                col_var += beta_hat * (xp.mean(sq, axis=-2, keepdims=True) - col_var)
                var_estimate = xp.matmul(row_var, col_var)
                var_estimate /= xp.maximum(xp.mean(row_var, axis=-2, keepdims=True), eps1)
            else:
                variance = self._state_shaped(p, state, "variance")
                variance += beta_hat * (grad * grad - variance)
                var_estimate = variance.copy()
            update = grad / xp.sqrt(xp.maximum(var_estimate, eps1 * eps1))
            denom = max(1.0, float(xp.sqrt(xp.sum(update * update))) / (math.sqrt(max(update.size, 1)) * d))
            param -= (alpha / denom) * update
            p._bump()

    @staticmethod
    def _zeros_shaped(p, shape):
        return Tensor._make(p.device.xp.zeros(shape, dtype=p.array.dtype), p.device)

    def _state_shaped(self, p, state, key):
        """``state[key]``'s array in its own shape, moved/cast to match ``p`` if needed."""
        self._state_array(p, state, key)  # replaces state[key] when p moved or changed dtype
        return state[key].array
