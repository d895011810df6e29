"""Activation modules: thin wrappers that call the functional ops (``F.relu`` etc.).

Having them as modules lets them sit in a ``Sequential`` and show up in a model's repr.
The math and its gradients live in ``tinynet.functional.activation``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._args import as_dim, as_float, as_int
from ..backend import get_device
from ..tensor import dtypes as _dt
from . import init as _init
from .module import Module
from .parameter import empty_parameter


__all__ = ["CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
           "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid",
           "Softmax", "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink",
           "Threshold"]


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


class _InplaceActivation(Module):
    """An activation without parameters other than ``inplace`` (PyTorch's meaning)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    extra_repr = _inplace_repr


class ReLU6(_InplaceActivation):
    """``min(max(0, x), 6)``."""

    def forward(self, x):
        return F.relu6(x, inplace=self.inplace)


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid."""

    def forward(self, x):
        return F.hardsigmoid(x, inplace=self.inplace)


class Hardswish(_InplaceActivation):
    """``x·relu6(x + 3) / 6`` (MobileNetV3)."""

    def forward(self, x):
        return F.hardswish(x, inplace=self.inplace)


class SELU(_InplaceActivation):
    """``scale·elu(x, alpha)`` with the self-normalising constants."""

    def forward(self, x):
        return F.selu(x, inplace=self.inplace)


class Mish(_InplaceActivation):
    """``x·tanh(softplus(x))``."""

    def forward(self, x):
        return F.mish(x, inplace=self.inplace)


class CELU(Module):
    """``max(0, x) + min(0, alpha·(e^{x/alpha} − 1))``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = as_float(alpha, "alpha", "CELU")
        if self.alpha == 0:
            raise ValueError("CELU: alpha must not be 0 (the formula divides by alpha)")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.celu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val = as_float(min_val, "min_val", "Hardtanh")
        self.max_val = as_float(max_val, "max_val", "Hardtanh")
        if self.min_val > self.max_val:
            raise ValueError(f"Hardtanh: min_val ({self.min_val}) must not exceed max_val ({self.max_val})")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, inplace=self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Threshold(Module):
    """``x`` where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = as_float(threshold, "threshold", "Threshold")
        self.value = as_float(value, "value", "Threshold")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value, inplace=self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class Softmin(Softmax):
    """``softmax(−x)`` along ``dim``."""

    def forward(self, x):
        dim = self.dim if self.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)  # PyTorch's legacy rule
        return F.softmin(x, dim=dim)


class Softmax2d(Module):
    """Softmax over the channels of each location: dimension −3 of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input (C, H, W) or (N, C, H, W), got shape "
                             f"{tuple(x.shape)}")
        return F.softmax(x, dim=-3)


class LogSigmoid(Module):
    """``log(1 / (1 + e^{−x}))``, computed stably."""

    def forward(self, x):
        return F.logsigmoid(x)


class Tanhshrink(Module):
    """``x − tanh(x)``."""

    def forward(self, x):
        return F.tanhshrink(x)


class _Shrink(Module):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = as_float(lambd, "lambd", type(self).__name__)

    def extra_repr(self):
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """``x`` where |x| > lambd, else 0."""

    def forward(self, x):
        return F.hardshrink(x, self.lambd)


class Softshrink(_Shrink):
    """``x − lambd`` above lambd, ``x + lambd`` below −lambd, 0 between."""

    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd)
        if self.lambd < 0:
            raise ValueError(f"Softshrink: lambd must be non-negative, got {self.lambd}")

    def forward(self, x):
        return F.softshrink(x, self.lambd)


class GLU(Module):
    """Gated linear unit: halves a, b of the input along ``dim``; ``a·σ(b)``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = as_dim(dim, "dim", "GLU")

    def forward(self, x):
        return F.glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class PReLU(Module):
    """``x`` for x > 0, ``a·x`` otherwise, with a learnable slope ``a``: one shared
    (``num_parameters=1``) or one per channel (dimension 1 of the input), initialised
    to ``init``.

    The slope count is ``weight.shape[0]`` (PyTorch also keeps it as ``num_parameters``;
    here that name is the method every Module has, counting parameter elements).
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        count = as_int(num_parameters, "num_parameters", "PReLU", minimum=1)
        self.init = as_float(init, "init", "PReLU")
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self.weight = empty_parameter((count,), get_device(device), dt)
        self.reset_parameters()

    def reset_parameters(self):
        """Fill the slopes with ``init`` again."""
        _init.constant_(self.weight, self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.shape[0]}"


class RReLU(Module):
    """Randomized leaky ReLU: random negative slopes ``U(lower, upper)`` while training,
    the fixed slope ``(lower + upper) / 2`` in evaluation."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower = as_float(lower, "lower", "RReLU")
        self.upper = as_float(upper, "upper", "RReLU")
        if self.lower > self.upper:
            raise ValueError(f"RReLU: lower ({self.lower}) must not exceed upper ({self.upper})")
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")
