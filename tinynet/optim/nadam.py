"""NAdam (Dozat, 2016): Adam with Nesterov momentum, and a momentum schedule."""
from __future__ import annotations

from .optimizer import Optimizer, check_betas, check_flag, check_hyper, check_switches


class NAdam(Optimizer):
    """PyTorch's NAdam. Per element, at step t (1 first), with ``g`` the gradient (negated
    when ``maximize``) and ψ = ``momentum_decay``::

        g ← g + weight_decay·p          (or, decoupled_weight_decay: p ← p·(1 − lr·weight_decay))
        μₜ = β1·(1 − ½·0.96^(t·ψ)),  μₜ₊₁ = β1·(1 − ½·0.96^((t+1)·ψ))   momentum schedule
        Π ← Π·μₜ                                     mu_product (starts at 1)
        m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
        d = √(v/(1 − β2ᵗ)) + eps
        p ← p − lr·(1 − μₜ)/(1 − Π) · g/d − lr·μₜ₊₁/(1 − Π·μₜ₊₁) · m/d

    The last line is the Nesterov look-ahead: the step uses next step's momentum on ``m``
    plus the current gradient's share. State per parameter: ``step``, ``mu_product`` (a
    number; PyTorch keeps a 0-d tensor, accepted on load), ``exp_avg``, ``exp_avg_sq``.
    ``foreach`` None/False is what runs; ``foreach=True``, ``capturable=True`` and
    ``differentiable=True`` raise ValueError (see :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    _state_optional = ()
    _state_scalars = ("mu_product",)

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        check_switches("NAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("eps", group["eps"])
        check_betas(group["betas"])
        check_hyper("weight_decay", group["weight_decay"])
        check_hyper("momentum_decay", group["momentum_decay"])
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])

    def _update_group(self, group):
        lr, eps, psi = group["lr"], group["eps"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = p.device.xp
            state = self._param_state(p, ("exp_avg", "exp_avg_sq"))
            state.setdefault("mu_product", 1.0)
            state["step"] += 1
            step = state["step"]
            grad, param, copied = self._grad_and_param(p, group)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
            state["mu_product"] *= mu
            mu_product = state["mu_product"]
            exp_avg = self._state_array(p, state, "exp_avg")
            exp_avg_sq = self._state_array(p, state, "exp_avg_sq")
            exp_avg += (1 - beta1) * (grad - exp_avg)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            denom = xp.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
            param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (grad / denom)
            param += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (exp_avg / denom)
            self._finish(p, param, copied)
