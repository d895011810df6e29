"""RMSprop (Hinton's lecture 6e), PyTorch's variant with momentum and centering."""
from __future__ import annotations

from .optimizer import Optimizer, check_flag, check_hyper, check_switches


class RMSprop(Optimizer):
    """Per element, with ``g`` the gradient (plus ``weight_decay·p``)::

        s ← α·s + (1 − α)·g²
        centered:  ḡ ← α·ḡ + (1 − α)·g;  d = √(s − ḡ²) + eps     else d = √s + eps
        momentum:  b ← μ·b + g/d;  p ← p − lr·b                    else p ← p − lr·g/d

    ``maximize=True`` ascends the objective, as in PyTorch. ``foreach`` None/False is what
    tinynet runs; ``foreach=True``, ``capturable=True`` and ``differentiable=True`` raise
    ValueError (see :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "square_avg")
    _state_optional = ("momentum_buffer", "grad_avg")  # with momentum > 0, centered

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False):  # PyTorch's positional order
        check_switches("RMSprop", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("eps", group["eps"])
        check_hyper("momentum", group["momentum"])
        check_hyper("weight_decay", group["weight_decay"])
        check_hyper("alpha", group["alpha"])
        check_flag("centered", group["centered"])

    def _update_group(self, group):
        momentum, centered = group["momentum"], group["centered"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._param_state(p, ("square_avg",), [("momentum_buffer", momentum > 0),
                                                           ("grad_avg", centered)])
            state["step"] += 1
            grad = self._flat_grad(p)
            param, copied = self._flat_param(p)
            sq = self._state_array(p, state, "square_avg")
            ga = self._state_array(p, state, "grad_avg") if centered else self._empty(p)
            buf = self._state_array(p, state, "momentum_buffer") if momentum > 0 else self._empty(p)
            p.device.kernels.rmsprop_step(param, grad, sq, ga, buf, group["lr"], group["alpha"], group["eps"],
                                          group["weight_decay"], momentum, centered, group["maximize"])
            self._finish(p, param, copied)
