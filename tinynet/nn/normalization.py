"""Normalisation layers: BatchNorm1d for (N, C) / (N, C, L), BatchNorm2d for (N, C, H, W),
BatchNorm3d for (N, C, D, H, W); GroupNorm, InstanceNorm1d/2d/3d and LocalResponseNorm.

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
from ..functional.normalization import batch_norm, group_norm, instance_norm, local_response_norm, rms_norm
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from .module import Module
from .parameter import Parameter


__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LocalResponseNorm", "RMSNorm"]


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


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) volumes over N, D, H and W, per channel C."""

    _dims = (5,)
    _shapes = "5-D (N, C, D, H, W)"


class GroupNorm(Module):
    """Group normalisation (``F.group_norm``): ``num_channels`` split into ``num_groups``.

    Learned per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``. Input
    (N, C, *); statistics are per sample, so training and evaluation behave the same.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        num_groups = as_int(num_groups, "num_groups", "GroupNorm", minimum=1)
        num_channels = as_int(num_channels, "num_channels", "GroupNorm", minimum=1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps = as_float(eps, "eps", "GroupNorm")
        self.affine = affine
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        if affine:
            self.weight = Parameter(Tensor._make(dev.xp.ones(num_channels, dtype=dt), dev))
            self.bias = Parameter(Tensor._make(dev.xp.zeros(num_channels, dtype=dt), dev))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.affine:
            self.weight.array.fill(1)
            self.bias.array.fill(0)
            self.weight._bump()
            self.bias._bump()

    def forward(self, input):
        label = f"GroupNorm({self.num_groups}, {self.num_channels})"
        if not isinstance(input, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(f"{label}: expected input (N, {self.num_channels}, *), got shape {tuple(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(_BatchNorm):
    """Shared body of InstanceNorm1d/2d/3d (PyTorch's defaults: affine=False,
    track_running_stats=False)."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        label = self._label()
        if not isinstance(input, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(input).__name__}")
        nd = self._spatial + 2
        if input.ndim not in (nd - 1, nd):
            raise ShapeError(f"{label}: expected a {self._shapes} input, got shape {tuple(input.shape)}")
        unbatched = input.ndim == nd - 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ShapeError(f"{label}: expected input with {self.num_features} channels (axis "
                             f"{0 if unbatched else 1}), got shape {tuple(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        momentum = self.momentum if self.momentum is not None else 0.0
        out = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L): each (sample, channel) over L."""

    _spatial = 1
    _shapes = "3-D (N, C, L) or 2-D (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W): each (sample, channel) over H, W."""

    _spatial = 2
    _shapes = "4-D (N, C, H, W) or 3-D (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W)."""

    _spatial = 3
    _shapes = "5-D (N, C, D, H, W) or 4-D (C, D, H, W)"


class LocalResponseNorm(Module):
    """Local response normalisation across channels (``F.local_response_norm``)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = as_int(size, "size", "LocalResponseNorm", minimum=1)
        self.alpha = as_float(alpha, "alpha", "LocalResponseNorm")
        self.beta = as_float(beta, "beta", "LocalResponseNorm")
        self.k = as_float(k, "k", "LocalResponseNorm")

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes (``F.rms_norm``).

    ``y = x / sqrt(mean(x²) + eps) · weight``: a learned ``weight`` (ones) when
    ``elementwise_affine``, no bias. ``eps=None`` (the default) uses the input dtype's machine
    epsilon, as PyTorch does.
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(as_int(v, "normalized_shape", "RMSNorm", minimum=1) for v in normalized_shape)
        self.eps = None if eps is None else as_float(eps, "eps", "RMSNorm")
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            dev = get_device(device)
            dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
            self.weight = Parameter(Tensor._make(dev.xp.ones(self.normalized_shape, dtype=dt), dev))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.elementwise_affine:
            self.weight.array.fill(1)
            self.weight._bump()

    def forward(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
