"""Activation modules: thin wrappers that call the functional ops (``F.relu`` etc.).

Having them as modules lets them sit in a ``Sequential`` and show up in a model's repr.
The math and its gradients live in ``tinynet.functional.activation``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._args import as_dim, as_float
from .module import Module


__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus", "Softsign", "Tanh"]


def _inplace_repr(module) -> str:
    return "inplace=True" if module.inplace else ""


class ReLU(Module):
    """``max(0, x)``. ``inplace=True`` overwrites the input with the result and returns it
    (PyTorch's meaning; see ``F.relu``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)

    extra_repr = _inplace_repr


class Sigmoid(Module):
    """``1 / (1 + e^{−x})``."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """``tanh(x)``."""

    def forward(self, x):
        return F.tanh(x)


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, x):
        return F.softsign(x)


class GELU(Module):
    """Gaussian error linear unit ``x·Φ(x)``; ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """``exp(x_i) / Σ_j exp(x_j)`` along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = as_dim(dim, "dim", type(self).__name__, allow_none=True)

    def forward(self, x):
        dim = self.dim if self.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)  # PyTorch's legacy rule
        return F.softmax(x, dim=dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log(softmax(x))`` along ``dim``, computed stably."""

    def forward(self, x):
        dim = self.dim if self.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)
        return F.log_softmax(x, dim=dim)


class LeakyReLU(Module):
    """``x`` for x ≥ 0, ``negative_slope·x`` otherwise. ``inplace=True`` overwrites the
    input with the result and returns it."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = as_float(negative_slope, "negative_slope", "LeakyReLU")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """``x·σ(x)`` (also called swish). ``inplace=True`` overwrites the input with the result
    and returns it."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.silu(x, inplace=self.inplace)

    extra_repr = _inplace_repr


class ELU(Module):
    """``x`` for x > 0, ``alpha·(e^x − 1)`` otherwise. ``inplace=True`` overwrites the input
    with the result and returns it."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = as_float(alpha, "alpha", "ELU")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.elu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """``(1/β)·log(1 + e^{βx})``, linear above ``threshold`` for stability."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = as_float(beta, "beta", "Softplus")
        self.threshold = as_float(threshold, "threshold", "Softplus")

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"
