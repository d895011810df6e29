"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019)."""
from __future__ import annotations

from .optimizer import Optimizer, check_flag, check_hyper, check_switches


class Adam(Optimizer):
    """PyTorch's Adam. Per element, at step t (1 first), with ``g`` the gradient::

        g ← g + weight_decay·p                     (L2 penalty folded into the gradient)
        m ← β1·m + (1 − β1)·g                       first moment
        v ← β2·v + (1 − β2)·g²                      second moment  (amsgrad: v̂ ← max(v̂, v))
        p ← p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + eps)

    With ``decoupled_weight_decay=True`` (PyTorch's argument; what :class:`AdamW` is) the
    decay is applied to the weights instead: ``p ← p·(1 − lr·weight_decay)`` first.

    All of it is one fused pass per parameter (``kernels.adam_step``). ``maximize=True``
    ascends the objective (the gradient is negated), as in PyTorch. PyTorch's
    implementation switches are checked, not ignored: ``foreach`` None/False and ``fused``
    None/True describe what tinynet runs; ``foreach=True``, ``fused=False``,
    ``capturable=True`` and ``differentiable=True`` raise ValueError (see
    :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "exp_avg", "exp_avg_sq")
    _state_optional = ("max_exp_avg_sq",)  # amsgrad
    _flag_names_class = True  # decoupled_weight_decay tells Adam's state dicts from AdamW's

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False):
        check_switches(type(self).__name__, foreach=foreach, fused=fused, capturable=capturable,
                       differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("eps", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            check_hyper(f"betas[{i}]", beta, 0.0, 1.0, label=f"beta parameter at index {i}")
        check_hyper("weight_decay", group["weight_decay"])
        check_flag("amsgrad", group["amsgrad"])
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._param_state(p, ("exp_avg", "exp_avg_sq"), [("max_exp_avg_sq", amsgrad)])
            state["step"] += 1
            grad = self._flat_grad(p)
            param, copied = self._flat_param(p)
            m = self._state_array(p, state, "exp_avg")
            v = self._state_array(p, state, "exp_avg_sq")
            vmax = self._state_array(p, state, "max_exp_avg_sq") if amsgrad else self._empty(p)
            p.device.kernels.adam_step(param, grad, m, v, vmax, group["lr"], beta1, beta2, group["eps"],
                                       group["weight_decay"], state["step"], group["decoupled_weight_decay"], amsgrad,
                                       group["maximize"])
            self._finish(p, param, copied)


class AdamW(Adam):
    """Adam with *decoupled* weight decay: ``p ← p·(1 − lr·weight_decay)`` before the Adam
    update, instead of adding ``weight_decay·p`` to the gradient (where Adam's scaling
    would weaken it). Default ``weight_decay=1e-2``. The other arguments are Adam's."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def _validate_group(self, group):
        super()._validate_group(group)
        if group["decoupled_weight_decay"] is not True:
            raise ValueError("AdamW: decoupled_weight_decay must be True (AdamW is Adam with decoupled weight "
                             f"decay), got {group['decoupled_weight_decay']!r}; use Adam for the coupled form")
