"""Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm in place of the
second moment."""
from __future__ import annotations

from .optimizer import Optimizer, check_betas, check_hyper, check_switches


class Adamax(Optimizer):
    """PyTorch's Adamax. Per element, at step t (1 first), with ``g`` the gradient (negated
    when ``maximize``)::

        g ← g + weight_decay·p
        m ← β1·m + (1 − β1)·g                       exp_avg
        u ← max(β2·u, |g| + eps)                    exp_inf: a decaying infinity norm
        p ← p − lr/(1 − β1ᵗ) · m / u

    The max makes the step size bounded by ``lr`` whatever the gradient's scale. State
    per parameter: ``step``, ``exp_avg``, ``exp_inf`` (PyTorch's names). ``foreach``
    None/False is what runs; ``foreach=True``, ``capturable=True`` and
    ``differentiable=True`` raise ValueError (see :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "exp_avg", "exp_inf")
    _state_optional = ()

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 foreach=None, *, maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        check_switches("Adamax", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("eps", group["eps"])
        check_betas(group["betas"])
        check_hyper("weight_decay", group["weight_decay"])

    def _update_group(self, group):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = p.device.xp
            state = self._param_state(p, ("exp_avg", "exp_inf"))
            state["step"] += 1
            grad, param, copied = self._grad_and_param(p, group)
            exp_avg = self._state_array(p, state, "exp_avg")
            exp_inf = self._state_array(p, state, "exp_inf")
            exp_avg += (1 - beta1) * (grad - exp_avg)
            exp_inf *= beta2
            xp.maximum(exp_inf, xp.abs(grad) + eps, out=exp_inf)
            clr = lr / (1 - beta1 ** state["step"])
            param -= clr * (exp_avg / exp_inf)
            self._finish(p, param, copied)
