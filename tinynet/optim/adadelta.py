"""Adadelta (Zeiler, 2012): per-element step sizes from running averages of squared
gradients *and* squared updates, so the update has the units of the parameter."""
from __future__ import annotations

from .optimizer import Optimizer, check_hyper, check_switches


class Adadelta(Optimizer):
    """PyTorch's Adadelta. Per element, with ``g`` the gradient (negated when ``maximize``)::

        g ← g + weight_decay·p
        v ← ρ·v + (1 − ρ)·g²                        square_avg
        Δ ← √(u + eps) / √(v + eps) · g             the update, in the parameter's units
        u ← ρ·u + (1 − ρ)·Δ²                        acc_delta
        p ← p − lr·Δ

    ``lr`` (default 1.0) only scales the update; the algorithm's own step size comes from
    the ratio of the two running averages. State per parameter: ``step``, ``square_avg``,
    ``acc_delta`` (PyTorch's names). The update is one fused pass per parameter, the
    device's ``adadelta_step`` kernel (math in ``kernels/optim_update.py``). ``foreach`` None/False is what runs; ``foreach=True``, ``capturable=True``
    and ``differentiable=True`` raise ValueError (see
    :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "square_avg", "acc_delta")
    _state_optional = ()

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        check_switches("Adadelta", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("rho", group["rho"])
        if group["rho"] > 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']} (invalid rho: expected a number in [0, 1])")
        check_hyper("eps", group["eps"])
        check_hyper("weight_decay", group["weight_decay"])

    def _update_group(self, group):
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._param_state(p, ("square_avg", "acc_delta"))
            state["step"] += 1
            grad = self._flat_grad(p)
            param, copied = self._flat_param(p)
            p.device.kernels.adadelta_step(param, grad, self._state_array(p, state, "square_avg"),
                                           self._state_array(p, state, "acc_delta"), group["lr"], group["rho"],
                                           group["eps"], group["weight_decay"], group["maximize"])
            self._finish(p, param, copied)
