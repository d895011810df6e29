"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky, 1992), PyTorch's form."""
from __future__ import annotations

from .optimizer import Optimizer, check_hyper, check_switches


class ASGD(Optimizer):
    """PyTorch's ASGD. Per element, at step t (1 first), with ``g`` the gradient (negated
    when ``maximize``), η and μ numbers kept per parameter (η₀ = lr, μ₀ = 1)::

        g ← g + weight_decay·p
        p ← p·(1 − λ·η) − η·g                       SGD with a decaying step and weight shrinkage
        ax ← ax + μ·(p − ax)       (ax ← p when μ = 1)     the running (Polyak) average
        η ← lr / (1 + λ·lr·t)^α;   μ ← 1 / max(1, t − t0)

    ``ax`` is the averaged parameter: before ``t0`` steps it just follows ``p``; after, it
    is the mean of the iterates since ``t0``, which is what one evaluates with (copy it into
    the parameters). State per parameter: ``step``, ``eta``, ``mu`` (numbers; PyTorch keeps
    0-d tensors, accepted on load) and ``ax``, PyTorch's names. ``foreach`` None/False is
    what runs; ``foreach=True``, ``capturable=True`` and ``differentiable=True`` raise
    ValueError (see :func:`~tinynet.optim.optimizer.check_switches`).
    """

    _state_required = ("step", "eta", "mu", "ax")
    _state_optional = ()
    _state_scalars = ("eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, foreach=None, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        check_switches("ASGD", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_hyper("lambd", group["lambd"])
        check_hyper("alpha", group["alpha"])
        check_hyper("t0", group["t0"])
        check_hyper("weight_decay", group["weight_decay"])

    def _update_group(self, group):
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state.update(step=0, eta=float(lr), mu=1.0, ax=self._zeros_like(p))
            state["step"] += 1
            step = state["step"]
            grad, param, copied = self._grad_and_param(p, group)
            eta = state["eta"]
            param *= 1 - lambd * eta
            param -= eta * grad
            ax = self._state_array(p, state, "ax")
            if state["mu"] != 1:
                ax += (param - ax) * state["mu"]
            else:
                ax[...] = param
            state["eta"] = lr / ((1 + lambd * lr * step) ** alpha)
            state["mu"] = 1 / max(1, step - t0)
            self._finish(p, param, copied)
