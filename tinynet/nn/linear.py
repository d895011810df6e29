"""Fully connected layers and shape helpers: Linear, Bilinear, Identity, Flatten, Unflatten."""
from __future__ import annotations


from ..backend.errors import DTypeError, ShapeError
from ..backend import get_device
from ..tensor import dtypes as _dt
from ..functional._args import as_dim, as_int
from ..functional._util import dtype_fix
from ..functional.linear import bilinear as _bilinear
from ..functional.linear import Linear as _LinearOp
from ..functional.linear import linear as _linear
from ..autograd.autocast_state import STATE as _AUTOCAST
from ..tensor.tensor import Tensor
from . import init
from .module import Module
from .parameter import empty_parameter


__all__ = ["Bilinear", "Flatten", "Identity", "Linear", "Unflatten"]


def _check_tensor(layer: str, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}; wrap data with tn.tensor(...)")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer).

    Any constructor arguments are accepted and unused, exactly as in PyTorch (whose
    ``nn.Identity`` is "argument-insensitive"), so it can stand in for any layer's call.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """``y = x W^T + b`` with ``W`` of shape (out_features, in_features).

    PyTorch's default initialisation: ``W ~ kaiming_uniform(a=√5)``, which is
    ``U(−1/√in, 1/√in)``, and ``b ~ U(−1/√in, 1/√in)``. Accepts any number of leading
    axes: (..., in_features) -> (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        in_features = as_int(in_features, "in_features", "Linear", minimum=0)
        out_features = as_int(out_features, "out_features", "Linear", minimum=0)
        self.in_features = in_features
        self.out_features = out_features
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self.weight = empty_parameter((out_features, in_features), dev, dt)
        self.register_parameter("bias", empty_parameter((out_features,), dev, dt) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw the weights with PyTorch's default scheme (see the class docstring)."""
        init.default_weight_and_bias_(self.weight, self.bias, self.in_features)

    def _label(self) -> str:
        return f"Linear({self.in_features}\u2192{self.out_features})"

    def forward(self, x):
        params = self._parameters
        if "weight" in params:
            w, b = params["weight"], params["bias"]
        else:  # a reparametrised weight (nn.utils.parametrize, weight_norm): computed on access
            w, b = self.weight, self.bias
        if _AUTOCAST.active:  # tn.autocast: F.linear casts x, W and b to the autocast dtype
            _check_tensor(self._label(), x)
            return _linear(x, w, b)
        # Fast path: one check of everything that must hold, then the op itself (this layer
        # runs thousands of times per second in small models; per-call Python is the cost).
        if (isinstance(x, Tensor) and x.ndim and x.shape[-1] == self.in_features
                and x.device is w.device and x.array.dtype == w.array.dtype):
            return _LinearOp.apply(x, w) if b is None else _LinearOp.apply(x, w, b)
        self._reject(x, w)

    def _reject(self, x, w):
        """Raise the error that says what is wrong with ``x`` for this layer."""
        _check_tensor(self._label(), x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(
                f"{self._label()}: expected input with {self.in_features} features (last axis), "
                f"got shape {tuple(x.shape)}"
            )
        if x.device is not w.device:
            raise RuntimeError(
                f"{self._label()}: input is on {x.device.type} but the layer's weights are on "
                f"{w.device.type}; move one, e.g. `x.to('{w.device.type}')` or "
                f"`model.to('{x.device.type}')`"
            )
        raise DTypeError(
            f"{self._label()}: input is {x.dtype} but the layer's weights are {w.dtype}; {dtype_fix(x.dtype, w.dtype)}"
        )

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens axes ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = as_dim(start_dim, "start_dim", "Flatten")
        self.end_dim = as_dim(end_dim, "end_dim", "Flatten")

    def forward(self, x):
        _check_tensor("Flatten", x)
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W))."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = as_dim(dim, "dim", "Unflatten")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.unflattened_size = tuple(as_int(s, "unflattened_size", "Unflatten") for s in unflattened_size)

    def forward(self, x):
        _check_tensor("Unflatten", x)
        dim = self.dim % x.ndim if x.ndim else 0
        size = 1
        for s in self.unflattened_size:
            size *= s if s != -1 else 1
        n = x.shape[dim]
        known = -1 not in self.unflattened_size
        if (known and size != n) or (not known and (size == 0 or n % size)):
            raise ShapeError(
                f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size}): axis {self.dim} of "
                f"input shape {tuple(x.shape)} has {n} elements, which cannot be split into {self.unflattened_size}"
            )
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Bilinear(Module):
    """``y = x1^T W x2 + b`` (``F.bilinear``): weight (out, in1, in2), bias (out,).

    PyTorch's initialisation: weight and bias ``U(−1/√in1, 1/√in1)``.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in1_features = as_int(in1_features, "in1_features", "Bilinear", minimum=1)
        self.in2_features = as_int(in2_features, "in2_features", "Bilinear", minimum=1)
        self.out_features = as_int(out_features, "out_features", "Bilinear", minimum=1)
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self.weight = empty_parameter((self.out_features, self.in1_features, self.in2_features), dev, dt)
        self.register_parameter("bias", empty_parameter((self.out_features,), dev, dt) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / self.in1_features ** 0.5
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return _bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
