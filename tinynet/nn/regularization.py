"""Weight penalties to add to a loss: ``loss = data_loss + lam * l2_penalty(model.parameters())``.

Both are ordinary differentiable expressions, so ``loss.backward()`` adds their
gradients: ``d/dw Σ|w| = sign(w)`` (L1, pushes weights to exactly zero) and
``d/dw Σw² = 2w`` (L2, shrinks weights in proportion to their size; with SGD at
learning rate lr this is weight decay of ``2·lam·lr`` per step).
"""
from __future__ import annotations

from ..tensor.tensor import Tensor


__all__ = ["l1_penalty", "l2_penalty"]


def _params(parameters, fn):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not params:
        raise ValueError(f"{fn}: got no parameters")
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors, got {type(p).__name__}")
    return params


def l1_penalty(parameters):
    """``Σ_p Σ_i |p_i|``: the L1 norm of all parameters, as a 0-d differentiable tensor."""
    total = None
    for p in _params(parameters, "l1_penalty"):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total


def l2_penalty(parameters):
    """``Σ_p Σ_i p_i²``: the squared L2 norm of all parameters, as a 0-d differentiable tensor."""
    total = None
    for p in _params(parameters, "l2_penalty"):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total
