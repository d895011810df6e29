"""Parameter: a Tensor that a Module learns.

Assigning a Parameter to a module attribute (``self.weight = Parameter(...)``) registers
it, so ``module.parameters()`` finds it and optimizers update it. It is an ordinary
Tensor otherwise; it requires grad by default.
"""
from __future__ import annotations

from ..tensor.tensor import Tensor


__all__ = ["Parameter"]


class Parameter(Tensor):
    """A learnable tensor (``requires_grad=True`` by default).

    ``Parameter(t)`` shares ``t``'s data (no copy), like PyTorch; ``Parameter()`` is an
    empty float32 tensor. Results of ops on a Parameter are plain Tensors.
    """

    #: ``grad_sample``: per-sample gradients, a Tensor of shape (N, *shape), written by
    #: ``tinynet.privacy.GradSampleModule`` (Opacus' name); None otherwise.
    __slots__ = ("grad_sample",)

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = Tensor([])
        if not isinstance(data, Tensor):
            data = Tensor(data)
        self.array = data.array
        self.device = data.device
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._version = data._version
        self._hooks = None
        self.grad_sample = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):  # pragma: no cover - tinynet never pickles; copy.deepcopy uses this
        return (Parameter, (Tensor._make(self.array.copy(), self.device), self._requires_grad))

    def __deepcopy__(self, memo):
        out = Parameter(Tensor._make(self.array.copy(), self.device), self._requires_grad)
        if self.grad is not None:
            out.grad = Tensor._make(self.grad.array.copy(), self.grad.device)
        memo[id(self)] = out
        return out


def empty_parameter(shape, device, dtype) -> Parameter:
    """An uninitialised Parameter of ``shape`` on the Device ``device`` with NumPy dtype ``dtype``
    (layers fill it in ``reset_parameters``)."""
    return Parameter(Tensor._make(device.xp.empty(shape, dtype=dtype), device))

