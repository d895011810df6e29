"""``nn.SyncBatchNorm``: batch normalisation whose statistics span the batches of every rank.

With data parallelism each rank sees only its share of the global batch. A plain
``BatchNorm`` would normalise each share with its own mean and variance, so the model
trained on N ranks differs from the one trained on the whole batch, and small per-rank
batches give noisy statistics. ``SyncBatchNorm`` computes, per channel c, the statistics
of the *global* batch (the concatenation of every rank's input along axis 0), whatever
the size of each rank's share::

    n    = Σ_r n_r                                   (values of channel c over all ranks)
    μ    = (Σ_r Σ x) / n
    σ²   = (Σ_r Σ x²) / n − μ²                       (biased: used to normalise)
    x̂    = (x − μ) / √(σ² + eps),      y = γ · x̂ + β

The three sums ``[Σ x, Σ x², n]`` of every channel travel in ONE ``all_reduce`` (a (3, C)
float64 buffer), so the forward costs one collective whatever the number of channels. The
sums are accumulated in float64 even for float32 inputs: ``Σx²/n − μ²`` subtracts two
nearly equal numbers when |μ| ≫ σ, and float64 keeps that cancellation far below float32's
round-off (for float64 inputs the relative error of σ² is about 1e-16 · μ²/σ²). The
result is clamped at 0 so round-off never gives a negative variance.

The running estimates are updated as BatchNorm does, with the global statistics and the
*unbiased* global variance ``σ² · n / (n − 1)``; every rank computes the same update from
the same reduced sums, so the buffers stay identical across ranks.

Backward (sums over the n values of a channel on all ranks; g = dL/dy)::

    dL/dx = γ / √(σ² + eps) · (g − Σg / n − x̂ · Σ(g·x̂) / n)
    dL/dγ = Σ_local g · x̂        dL/dβ = Σ_local g

The two global sums ``[Σ g, Σ g·x̂]`` travel in ONE ``all_reduce`` (a (2, C) buffer), so the
input gradients equal those of BatchNorm on the concatenated batch. As in PyTorch, the
weight and bias gradients stay *local* (this rank's share of the sum): summed over ranks
they are BatchNorm's, and DistributedDataParallel's gradient all-reduce combines them with
the other parameters' gradients. The backward is written on arrays around a collective, so
it is differentiable once (``create_graph=True`` raises).

When no process group is initialized, when it has one process, or in evaluation mode, the
layer is an ordinary BatchNorm (eval uses the running estimates, which need no
communication). Inputs are any (N, C, *) tensor; a rank may even hold an empty share
(N = 0) as long as the global batch has more than one value per channel.
"""
from __future__ import annotations

from ...autograd.function import Function, once_differentiable
from ...backend.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from ...distributed import all_reduce, get_world_size, is_initialized
from ...functional.normalization import batch_norm
from ...tensor import dtypes as _dt
from ...tensor.tensor import Tensor
from ..lazy import _LazyMixin
from ..module import Module
from ..normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm

__all__ = ["SyncBatchNorm"]


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _bshape(ndim, c):
    return (1, c) + (1,) * (ndim - 2)


class _SyncBatchNormFunction(Function):
    """Training-mode synchronised batch norm: one all-reduce forward, one backward."""

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, factor, label):
        x, dev = input.array, input.device
        xp = dev.xp
        c = x.shape[1]
        axes, bshape = _axes(x.ndim), _bshape(x.ndim, c)
        count = x.size // c
        x64 = x.astype(_dt.float64, copy=False)
        stats = xp.empty((3, c), dtype=_dt.float64)
        stats[0] = x64.sum(axis=axes)
        stats[1] = (x64 * x64).sum(axis=axes)
        stats[2] = count
        stats_t = Tensor._make(stats, dev)
        try:
            all_reduce(stats_t)  # [Σx, Σx², n] of every rank, per channel: one collective
        except ShapeError as exc:  # another rank's layer has another number of channels
            raise ShapeError(f"{label}: the ranks' layers disagree on the number of channels (this rank has {c}; "
                             f"every rank must build the same model): {exc}") from None
        stats = stats_t.array
        n = float(stats[2, 0])
        if n <= 1:
            # Every rank sees the same reduced n, so every rank raises here (no hang).
            raise ShapeError(
                f"{label}: expected more than 1 value per channel when training, got {int(n)} over all "
                f"{get_world_size()} ranks (this rank's input has shape {tuple(x.shape)}); use larger batches "
                "or call model.eval()"
            )
        mean = stats[0] / n
        var = xp.maximum(stats[1] / n - mean * mean, 0.0)
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat = (x - mean.astype(x.dtype).reshape(bshape)) * invstd.astype(x.dtype).reshape(bshape)
        if weight is not None:
            out = xhat * weight.array.astype(x.dtype, copy=False).reshape(bshape)
            out += bias.array.astype(x.dtype, copy=False).reshape(bshape)
        else:
            out = xhat.copy()  # the output may be changed in place later; xhat must stay
        if running_mean is not None:
            rm = running_mean.array
            rm *= 1.0 - factor
            rm += (factor * mean).astype(rm.dtype, copy=False)
            running_mean._bump()
        if running_var is not None:
            rv = running_var.array
            rv *= 1.0 - factor
            rv += (factor * var * (n / (n - 1.0))).astype(rv.dtype, copy=False)
            running_var._bump()
        ctx.xhat, ctx.invstd, ctx.count, ctx.weight = xhat, invstd, n, weight
        return Tensor._make(out, dev)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        g, dev = grad_output.array, grad_output.device
        xp = dev.xp
        xhat = ctx.xhat
        axes, bshape = _axes(g.ndim), _bshape(g.ndim, g.shape[1])
        g64 = g.astype(_dt.float64, copy=False)
        sums = xp.empty((2, g.shape[1]), dtype=_dt.float64)
        sums[0] = g64.sum(axis=axes)                  # this rank's Σ g     (= its dL/dβ)
        sums[1] = (g64 * xhat).sum(axis=axes)         # this rank's Σ g·x̂   (= its dL/dγ)
        weight = ctx.weight
        gw = gb = None
        if weight is not None:
            gw = Tensor._make(sums[1].astype(weight.array.dtype), dev) if ctx.needs_input_grad[1] else None
            gb = Tensor._make(sums[0].astype(weight.array.dtype), dev) if ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            sums_t = Tensor._make(sums, dev)
            all_reduce(sums_t)  # [Σg, Σg·x̂] of every rank, per channel: one collective
            total = sums_t.array / ctx.count
            scale = ctx.invstd if weight is None else ctx.invstd * weight.array.astype(_dt.float64)
            dt = g.dtype
            gx = (g - total[0].astype(dt).reshape(bshape) - xhat * total[1].astype(dt).reshape(bshape))
            gx = gx * scale.astype(dt).reshape(bshape)
            gx = Tensor._make(gx, dev)
        return gx, gw, gb, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the batches of every rank (PyTorch's ``nn.SyncBatchNorm``).

    Args (PyTorch's): ``num_features`` (C of an (N, C, *) input), ``eps``, ``momentum``
    (None: cumulative average), ``affine``, ``track_running_stats``, ``process_group``
    (None: the default group -- tinynet has only that one), ``device``, ``dtype``.

    In training, inside an initialized process group of more than one process, the mean
    and variance are those of the concatenation of every rank's input (see the module
    docstring); otherwise it computes exactly what ``BatchNorm1d/2d/3d`` do. Every rank must
    call it the same number of times (each training forward and backward is a collective).
    Turn the BatchNorm layers of an existing model into this one with
    :meth:`convert_sync_batchnorm`.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        if process_group is not None:
            raise ArgumentError(
                f"SyncBatchNorm({self.num_features}): process_group={process_group!r} is not supported; tinynet has "
                "one process group, the default one of init_process_group(), so pass process_group=None"
            )
        self.process_group = process_group

    def _check_input(self, input):
        label = self._label()
        if not isinstance(input, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim < 2:
            raise ShapeError(f"{label}: expected an input of at least 2 axes (N, C, *), got shape "
                             f"{tuple(input.shape)} ({input.ndim}-D)")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{label}: expected input with {self.num_features} channels (axis 1), got shape "
                             f"{tuple(input.shape)}")
        if input.dtype.kind != "f":
            raise DTypeError(f"{label}: needs a floating input, got {input.dtype}; convert with .float() or "
                             ".double()")
        ref = self.weight if self.affine else self.running_mean
        if ref is not None and input.device is not ref.device:
            raise DeviceError(f"{label}: input is on {input.device.type} but the layer is on {ref.device.type}; "
                              f"move one, e.g. `x.to('{ref.device.type}')`")

    def forward(self, input):
        self._check_input(input)
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            self.num_batches_tracked._bump()
        # Batch statistics in training, and in eval when there are no running ones (PyTorch's rule).
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        running_mean = self.running_mean if track else None
        running_var = self.running_var if track else None
        need_sync = bn_training and self.training and is_initialized() and get_world_size() > 1
        if not need_sync:
            x = input
            if x.ndim > 5:  # the statistics span every axis but 1, so (N, C, L) normalises the same
                x = x.reshape(x.shape[0], x.shape[1], -1)
            out = batch_norm(x, running_mean, running_var, self.weight, self.bias, bn_training, self.momentum,
                             self.eps, num_batches_tracked=self.num_batches_tracked)
            return out.reshape(input.shape) if out.ndim != input.ndim else out
        if self.momentum is None:  # cumulative moving average: weight 1 / (batches seen so far)
            factor = 1.0 / max(int(self.num_batches_tracked.item()), 1) if self.track_running_stats else 0.0
        else:
            factor = self.momentum
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, running_mean, running_var,
                                            self.eps, factor, self._label())

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm1d/2d/3d`` in its tree replaced by a SyncBatchNorm.

        The new layer takes over the old one's weight and bias (the same Parameter objects,
        so ``requires_grad`` and any optimizer holding them carry over), its running buffers,
        ``num_batches_tracked`` and training flag (PyTorch's classmethod). Returns the new
        root when ``module`` itself is a BatchNorm, else ``module`` changed in place.
        """
        if not isinstance(module, Module):
            raise TypeError(f"SyncBatchNorm.convert_sync_batchnorm: expected an nn.Module, got "
                            f"{type(module).__name__}")
        out = module
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            if isinstance(module, _LazyMixin) and module.has_uninitialized_params():
                raise ArgumentError(
                    f"SyncBatchNorm.convert_sync_batchnorm: {type(module).__name__} has not seen an input yet, so "
                    "its number of features is unknown; run one forward pass before converting"
                )
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in list(module.named_children()):
            # in place in the table, so the children (and the parameters) keep their order
            out._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return out
