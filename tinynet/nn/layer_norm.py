"""nn.LayerNorm: normalise each sample over its trailing axes, then scale and shift."""
from __future__ import annotations

from ..backend.errors import ShapeError
from .. import functional as F
from ..backend import get_device
from ..functional._args import as_float, as_shape
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the last ``normalized_shape`` axes.

    Unlike batch normalisation the statistics are per sample (no running averages, the
    same in train and eval), which is why Transformers use it. ``weight`` starts at 1 and
    ``bias`` at 0; ``elementwise_affine=False`` drops both, ``bias=False`` only the bias.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = as_shape(normalized_shape, "normalized_shape", "LayerNorm")
        if not self.normalized_shape or any(s <= 0 for s in self.normalized_shape):
            raise ShapeError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.eps = as_float(eps, "eps", "LayerNorm")
        self.elementwise_affine = elementwise_affine
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(Tensor._make(dev.xp.ones(self.normalized_shape, dtype=dt), dev))
            if bias:
                self.bias = Parameter(Tensor._make(dev.xp.zeros(self.normalized_shape, dtype=dt), dev))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        n = len(self.normalized_shape)
        if not isinstance(x, Tensor) or x.ndim < n or tuple(x.shape[-n:]) != self.normalized_shape:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(
                f"LayerNorm({self.normalized_shape}): expected an input whose trailing axes are "
                f"{self.normalized_shape}, got {got}"
            )
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
