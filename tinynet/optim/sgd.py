"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from .optimizer import Optimizer, check_flag, check_hyper, check_switches


class SGD(Optimizer):
    """PyTorch's SGD. Per element, with ``g`` the gradient (negated when ``maximize``)::

        g ← g + weight_decay·p
        b ← g                                   on the first step
        b ← momentum·b + (1 − dampening)·g      afterwards
        g ← g + momentum·b  (nesterov)   or   g ← b
        p ← p − lr·g

    With ``momentum=γ`` this is the same trajectory as the textbook rule
    ``v ← γv − lr·∇θ; θ ← θ + v`` at a constant lr (``v = −lr·b``).

    ``maximize=True`` ascends the objective (the gradient is negated), as in PyTorch.
    PyTorch's implementation switches are checked, not ignored: ``foreach`` None/False and
    ``fused`` None/True describe what tinynet runs (one fused kernel per parameter);
    ``foreach=True``, ``fused=False`` and ``differentiable=True`` raise ValueError (see
    :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_optional = ("momentum_buffer",)  # only with momentum, from the first step

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        check_switches("SGD", foreach=foreach, fused=fused, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("momentum", group["momentum"])
        check_hyper("weight_decay", group["weight_decay"])
        check_hyper("dampening", group["dampening"], low=None)  # PyTorch allows any; not NaN or inf
        check_flag("nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = self._flat_grad(p)
            param, copied = self._flat_param(p)
            if momentum != 0:
                state = self.state.setdefault(p, {})
                first = "momentum_buffer" not in state
                if first:
                    state["momentum_buffer"] = self._zeros_like(p)
                buf = self._state_array(p, state, "momentum_buffer")
            else:
                first, buf = False, param[:0]  # no buffer: an empty array of the right dtype
            p.device.kernels.sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay,
                                      nesterov, maximize, first)
            if momentum != 0:
                state["momentum_buffer"]._bump()
            self._finish(p, param, copied)
