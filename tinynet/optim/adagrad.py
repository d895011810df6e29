"""Adagrad (Duchi et al., 2011): per-element learning rates that shrink with the
accumulated squared gradients, so rarely updated weights keep larger steps."""
from __future__ import annotations

from .optimizer import Optimizer, check_hyper, check_switches


class Adagrad(Optimizer):
    """Per element, at step t (1 first), with ``g`` the gradient (plus ``weight_decay·p``)::

        s ← s + g²
        p ← p − lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)

    ``s`` starts at ``initial_accumulator_value``. ``maximize=True`` ascends the objective,
    as in PyTorch. ``foreach`` None/False and ``fused`` None/True are what tinynet runs;
    ``foreach=True``, ``fused=False`` and ``differentiable=True`` raise ValueError (see
    :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "sum")
    _state_optional = ()

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None):
        check_switches("Adagrad", foreach=foreach, fused=fused, differentiable=differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)  # add_param_group builds the state eagerly, as PyTorch does

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("lr_decay", group["lr_decay"])
        check_hyper("weight_decay", group["weight_decay"])
        check_hyper("initial_accumulator_value", group["initial_accumulator_value"])
        check_hyper("eps", group["eps"])

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if hasattr(self, "state"):
            group = self.param_groups[-1]
            for p in group["params"]:
                self.state.setdefault(p, {"step": 0, "sum": self._zeros_like(p, group["initial_accumulator_value"])})

    def _update_group(self, group):
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {"step": 0, "sum": self._zeros_like(p, group["initial_accumulator_value"])})
            state["step"] += 1
            grad = self._flat_grad(p)
            param, copied = self._flat_param(p)
            s = self._state_array(p, state, "sum")
            p.device.kernels.adagrad_step(param, grad, s, group["lr"], group["lr_decay"], group["eps"],
                                          group["weight_decay"], state["step"], group["maximize"])
            self._finish(p, param, copied)
