"""Batch normalisation layers: BatchNorm1d for (N, C) / (N, C, L), BatchNorm2d for (N, C, H, W).

Each layer holds a learned per-channel scale ``weight`` (γ, ones) and shift ``bias``
(β, zeros) when ``affine``, and, when ``track_running_stats``, the buffers
``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``. In training
mode it normalises with the batch statistics and updates the running ones; after
``model.eval()`` it uses the running statistics (see ``tinynet.functional.normalization``).
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..backend import get_device
from ..functional._args import as_float, as_int
from ..functional.normalization import batch_norm
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from .module import Module
from .parameter import Parameter


__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _dims: tuple = ()
    _shapes: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        label = type(self).__name__
        num_features = as_int(num_features, "num_features", label, minimum=1)
        eps = as_float(eps, "eps", label)
        momentum = as_float(momentum, "momentum", label, allow_none=True)
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        xp = dev.xp
        if affine:
            self.weight = Parameter(Tensor._make(xp.ones(num_features, dtype=dt), dev))
            self.bias = Parameter(Tensor._make(xp.zeros(num_features, dtype=dt), dev))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._make(xp.zeros(num_features, dtype=dt), dev))
            self.register_buffer("running_var", Tensor._make(xp.ones(num_features, dtype=dt), dev))
            self.register_buffer("num_batches_tracked", Tensor._make(xp.zeros((), dtype=_dt.int64), dev))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array.fill(0)
            self.running_var.array.fill(1)
            self.num_batches_tracked.array.fill(0)
            for b in (self.running_mean, self.running_var, self.num_batches_tracked):
                b._bump()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.array.fill(1)
            self.bias.array.fill(0)
            self.weight._bump()
            self.bias._bump()

    def _label(self):
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in self._dims:
            raise ShapeError(f"{self._label()}: expected a {self._shapes} input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self._label()}: expected input with {self.num_features} channels (axis 1), "
                f"got shape {tuple(x.shape)}"
            )
        ref = self.weight if self.affine else self.running_mean
        if ref is not None and x.device is not ref.device:
            raise RuntimeError(
                f"{self._label()}: input is on {x.device.type} but the layer is on {ref.device.type}; "
                f"move one, e.g. `x.to('{ref.device.type}')`"
            )
        use_batch_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            self.num_batches_tracked._bump()
        update = self.training and self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if (update or not use_batch_stats) else None,
            self.running_var if (update or not use_batch_stats) else None,
            self.weight, self.bias, use_batch_stats, self.momentum, self.eps,
            num_batches_tracked=self.num_batches_tracked,
        )

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over N (and L), per channel C."""

    _dims = (2, 3)
    _shapes = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images over N, H and W, per channel C."""

    _dims = (4,)
    _shapes = "4-D (N, C, H, W)"
