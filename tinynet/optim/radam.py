"""RAdam (Liu et al., 2020): Adam with the variance of the adaptive step rectified, so no
warm-up is needed."""
from __future__ import annotations

import math

from .optimizer import Optimizer, check_betas, check_flag, check_hyper, check_switches


class RAdam(Optimizer):
    """PyTorch's RAdam. Per element, at step t (1 first), with ``g`` the gradient (negated
    when ``maximize``)::

        g ← g + weight_decay·p          (or, decoupled_weight_decay: p ← p·(1 − lr·weight_decay))
        m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
        m̂ = m/(1 − β1ᵗ)
        ρ∞ = 2/(1 − β2) − 1;   ρₜ = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)       length of the approximated SMA
        ρₜ > 5:  r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ));  p ← p − lr·m̂·r·√(1 − β2ᵗ)/(√v + eps)
        else:    p ← p − lr·m̂                                  (plain momentum while v is unreliable)

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (PyTorch's names).
    ``foreach`` None/False is what runs; ``foreach=True``, ``capturable=True`` and
    ``differentiable=True`` raise ValueError (see :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "exp_avg", "exp_avg_sq")
    _state_optional = ()

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        check_switches("RAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("eps", group["eps"])
        check_betas(group["betas"])
        check_hyper("weight_decay", group["weight_decay"])
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])

    def _update_group(self, group):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = p.device.xp
            state = self._param_state(p, ("exp_avg", "exp_avg_sq"))
            state["step"] += 1
            step = state["step"]
            grad, param, copied = self._grad_and_param(p, group)
            exp_avg = self._state_array(p, state, "exp_avg")
            exp_avg_sq = self._state_array(p, state, "exp_avg_sq")
            exp_avg += (1 - beta1) * (grad - exp_avg)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            corrected = exp_avg / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                adaptive = math.sqrt(bias_correction2) / (xp.sqrt(exp_avg_sq) + eps)
                param -= corrected * lr * adaptive * rect
            else:
                param -= corrected * lr
            self._finish(p, param, copied)
