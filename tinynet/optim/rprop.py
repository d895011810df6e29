"""Rprop: resilient backpropagation (Riedmiller & Braun, 1993), PyTorch's form."""
from __future__ import annotations

from .optimizer import Optimizer, check_hyper, check_switches


def _check_pair(name: str, value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair, got {value!r}")
    for i, v in enumerate(value):
        check_hyper(f"{name}[{i}]", v, low=None)
    return tuple(value)


class Rprop(Optimizer):
    """PyTorch's Rprop. Only the *sign* of the gradient is used; each element has its own
    step size, grown while the gradient keeps its sign and shrunk when it flips. Per
    element, with ``g`` the gradient (negated when ``maximize``) and ``prev`` the previous
    step's (possibly zeroed) gradient::

        s = sign(g · prev)
        step_size ← clamp(step_size · (etaplus if s > 0, etaminus if s < 0, 1 if s = 0),
                          step_sizes[0], step_sizes[1])
        g ← 0 where s < 0          (after a sign flip, skip the move and the next comparison)
        p ← p − sign(g) · step_size;   prev ← g

    ``step_size`` starts at ``lr``. Full-batch method: minibatch noise flips signs. State
    per parameter: ``step``, ``prev``, ``step_size`` (PyTorch's names). ``foreach``
    None/False is what runs; ``foreach=True``, ``capturable=True`` and
    ``differentiable=True`` raise ValueError.
    """

    _state_required = ("step", "prev", "step_size")
    _state_optional = ()

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach=None, maximize: bool = False, differentiable: bool = False):
        check_switches("Rprop", foreach=foreach, capturable=capturable, differentiable=differentiable)
        etas = tuple(etas) if isinstance(etas, list) else etas
        step_sizes = tuple(step_sizes) if isinstance(step_sizes, list) else step_sizes
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        etaminus, etaplus = _check_pair("etas", group["etas"])
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus} (expected 0 < etas[0] < 1 < etas[1])")
        lo, hi = _check_pair("step_sizes", group["step_sizes"])
        if not 0.0 <= lo <= hi:
            raise ValueError(f"Invalid step_sizes: {lo}, {hi} (expected 0 <= step_sizes[0] <= step_sizes[1])")

    def _update_group(self, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = p.device.xp
            state = self.state.setdefault(p, {})
            if not state:
                state.update(step=0, prev=self._zeros_like(p), step_size=self._zeros_like(p, float(group["lr"])))
            state["step"] += 1
            grad = self._flat_grad(p)
            if group["maximize"]:
                grad = -grad
            param, copied = self._flat_param(p)
            prev = self._state_array(p, state, "prev")
            step_size = self._state_array(p, state, "step_size")
            sign = xp.sign(grad * prev)
            factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(param.dtype)
            step_size *= factor
            xp.clip(step_size, lo, hi, out=step_size)
            grad = xp.where(sign < 0, xp.zeros((), dtype=grad.dtype), grad)
            param -= xp.sign(grad) * step_size
            prev[...] = grad
            self._finish(p, param, copied)
