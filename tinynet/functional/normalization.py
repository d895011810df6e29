"""Batch normalisation (Ioffe & Szegedy, 2015).

For an input of shape (N, C), (N, C, L) or (N, C, H, W), each channel c is normalised
over every axis except the channel axis (m = N·L or N·H·W values)::

    μ_c = mean(x_c)      σ²_c = mean((x_c − μ_c)²)       (biased, used to normalise)
    x̂  = (x − μ_c) / √(σ²_c + eps)
    y  = γ_c · x̂ + β_c

In training the batch statistics are used and the running estimates are updated in
place, PyTorch's way: ``running = (1 − momentum)·running + momentum·batch_stat`` with the
*unbiased* variance ``σ²·m/(m − 1)`` for ``running_var`` (``momentum=None`` gives the
cumulative average, weight ``1/num_batches_tracked``). In evaluation the running
estimates replace the batch statistics.

Backward of the training form (with ĝ = γ·g, sums over the m values of a channel)::

    dL/dx = (1/√(σ² + eps)) · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))
    dL/dγ = Σ g · x̂          dL/dβ = Σ g

``backward_array`` (the usual ``backward()``) runs this on raw arrays with the values the
forward saved; ``backward`` (used under ``create_graph=True``) is the same formula written
with tinynet ops on the inputs, so second derivatives are exact.
"""
from __future__ import annotations

import numbers

import numpy as _np  # host-side only: the dtype's machine epsilon

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..autograd.op import Op
from ..autograd.grad_mode import no_grad
from ..tensor.tensor import Tensor
from .join import cat

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "batch_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm",
]


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _bshape(ndim, c):
    return (1, c) + (1,) * (ndim - 2)


class BatchNormTrain(Op):
    """Normalise with the batch's own statistics (training mode); inputs x[, weight, bias]."""

    name = "batch_norm"
    saves_output = False  # the backward reads the saved xhat and invstd, never the output

    def forward(self, x, weight=None, bias=None):
        xp = self.xp
        axes = _axes(x.ndim)
        bshape = _bshape(x.ndim, x.shape[1])
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat = xc * invstd
        self.batch_mean = mean.reshape(-1)
        self.batch_var = var.reshape(-1)
        self.xhat = xhat
        self.invstd = invstd
        if weight is None:
            return xhat.copy()  # the output may be changed in place later; xhat must stay
        out = xhat * weight.reshape(bshape)
        out += bias.reshape(bshape)
        return out

    def backward(self, g):
        x = self.inputs[0]
        affine = len(self.inputs) == 3
        axes = _axes(x.ndim)
        bshape = _bshape(x.ndim, x.shape[1])
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        invstd = 1.0 / (var + self.eps).sqrt()
        xhat = xc * invstd
        gx = None
        if x._requires_grad:
            gh = g * self.inputs[1].reshape(bshape) if affine else g
            gx = invstd * (gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        if not affine:
            return gx
        gw = (g * xhat).sum(axis=axes) if self.inputs[1]._requires_grad else None
        gb = g.sum(axis=axes) if self.inputs[2]._requires_grad else None
        return gx, gw, gb

    def backward_array(self, g):
        x = self.inputs[0]
        affine = len(self.inputs) == 3
        axes = _axes(x.ndim)
        gw = gb = None
        if affine:
            gh = g * self.inputs[1].array.reshape(_bshape(x.ndim, x.shape[1]))
            if self.inputs[1]._requires_grad:
                gw = (g * self.xhat).sum(axis=axes)
            if self.inputs[2]._requires_grad:
                gb = g.sum(axis=axes)
        else:
            gh = g
        gx = None
        if x._requires_grad:
            mean_gh = gh.mean(axis=axes, keepdims=True)
            mean_ghx = (gh * self.xhat).mean(axis=axes, keepdims=True)
            gx = self.xp.asarray(self.invstd * (gh - mean_gh - self.xhat * mean_ghx))
        return (gx, gw, gb) if affine else gx


def _check_stat(name, t, c, op):
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != (c,):
        raise ShapeError(f"{op}: {name} must have shape ({c},) for an input with {c} channels, got {tuple(t.shape)}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, num_batches_tracked=None):
    """Batch normalisation over the channel axis 1 (PyTorch's ``F.batch_norm``).

    ``training=True`` normalises with the batch statistics and, when ``running_mean`` /
    ``running_var`` are given, updates them in place (see the module docstring);
    ``training=False`` normalises with the running statistics. ``momentum=None`` uses a
    cumulative average and needs ``num_batches_tracked`` (an int tensor, already
    incremented for this batch).
    """
    op = "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (2, 3, 4, 5):
        raise ShapeError(f"{op}: expected a 2-D to 5-D input (N, C[, L] or N, C, H, W or N, C, D, H, W), "
                         f"got shape {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating input, got {input.dtype}; convert with .float()")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_stat(name, t, c, op)
    if (weight is None) != (bias is None):
        raise ArgumentError(f"{op}: give both weight and bias, or neither")
    if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0):
        raise ArgumentError(f"{op}: momentum must be in [0, 1] or None, got {momentum!r}")
    axes = _axes(input.ndim)
    bshape = _bshape(input.ndim, c)
    if training:
        m = input.numel() // max(c, 1)
        if m <= 1:
            raise ShapeError(
                f"{op}: expected more than 1 value per channel when training, got input of shape "
                f"{tuple(input.shape)}; use a larger batch or call model.eval()"
            )
        args = (input,) if weight is None else (input, weight, bias)
        out = BatchNormTrain.apply(*args, eps=float(eps))
        node = out.grad_fn
        if running_mean is not None or running_var is not None:
            # The batch statistics (recomputed here only when the node was not recorded).
            if node is not None:
                bmean, bvar = node.batch_mean, node.batch_var
            else:
                bmean = input.array.mean(axis=axes)
                bvar = ((input.array - bmean.reshape(bshape)) ** 2).mean(axis=axes)
            if momentum is None:
                n = int(num_batches_tracked.item()) if num_batches_tracked is not None else 1
                factor = 1.0 / max(n, 1)
            else:
                factor = float(momentum)
            if running_mean is not None:
                rm = running_mean.array
                rm *= 1.0 - factor
                rm += factor * bmean.astype(rm.dtype, copy=False)
                running_mean._bump()
            if running_var is not None:
                rv = running_var.array
                rv *= 1.0 - factor
                rv += (factor * m / (m - 1)) * bvar.astype(rv.dtype, copy=False)
                running_var._bump()
        return out
    if running_mean is None or running_var is None:
        raise ArgumentError(f"{op}: evaluation mode (training=False) needs running_mean and running_var")
    xp = input.device.xp
    scale_arr = 1.0 / xp.sqrt(running_var.array.astype(input.dtype) + eps)
    shift_arr = -running_mean.array.astype(input.dtype) * scale_arr
    scale = Tensor._make(scale_arr.reshape(bshape), input.device)
    shift = Tensor._make(shift_arr.reshape(bshape), input.device)
    if weight is not None:
        # y = (x − μ)/σ · γ + β  =  x · (γ/σ) + (β − μγ/σ): two broadcast ops, differentiable in x, γ, β.
        w = weight.reshape(bshape)
        return input * (scale * w) + (shift * w + bias.reshape(bshape))
    return input * scale + shift


def _check_input(input, op, min_ndim=2):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < min_ndim:
        raise ShapeError(f"{op}: expected an input of at least {min_ndim} axes (N, C, ...), got shape {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating input, got {input.dtype}; convert with .float()")


def _affine(out, weight, bias, c, op):
    """``out * weight + bias`` with per-channel (C,) weight/bias broadcast along axis 1."""
    bshape = _bshape(out.ndim, c)
    for name, t in (("weight", weight), ("bias", bias)):
        _check_stat(name, t, c, op)
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Group normalisation (Wu & He, 2018), PyTorch's ``F.group_norm``.

    The C channels of each sample are split into ``num_groups`` groups of C/G consecutive
    channels; each group is normalised over its channels and all spatial positions
    (biased variance): ``y = (x − μ_g) / √(σ²_g + eps) · γ_c + β_c``. Independent of the
    batch size, so it behaves the same in training and evaluation. Composite (autograd
    derives the gradient).
    """
    op = "group_norm"
    _check_input(input, op)
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups < 1:
        raise ArgumentError(f"{op}: num_groups must be a positive int, got {num_groups!r}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise ShapeError(f"{op}: the {c} channels of input {tuple(input.shape)} cannot be split into "
                         f"num_groups={num_groups} equal groups; pick num_groups dividing {c}")
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)
    out = (xc / (var + eps).sqrt()).reshape(input.shape)
    return _affine(out, weight, bias, c, op)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Instance normalisation (Ulyanov et al., 2016), PyTorch's ``F.instance_norm``.

    With ``use_input_stats`` each (sample, channel) is normalised over its spatial axes
    (biased variance) and, when given, ``running_mean``/``running_var`` are updated in place
    with the batch average of the per-instance mean and unbiased variance
    (``running = (1 − momentum)·running + momentum·stat``). Without it the running
    statistics normalise (as ``batch_norm`` in evaluation). ``weight``/``bias`` are
    per-channel (C,).
    """
    op = "instance_norm"
    _check_input(input, op, 3)
    n, c = input.shape[0], input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_stat(name, t, c, op)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ArgumentError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    m = input.numel() // max(n * c, 1)
    if m <= 1:
        raise ShapeError(f"{op}: expected more than 1 spatial element per channel, got input of shape "
                         f"{tuple(input.shape)}")
    axes = tuple(range(2, input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    xc = input - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    out = xc / (var + eps).sqrt()
    if running_mean is not None or running_var is not None:
        with no_grad():
            bm = mean.array.reshape(n, c).mean(axis=0)
            bv = var.array.reshape(n, c).mean(axis=0) * (m / (m - 1))
            for buf, stat in ((running_mean, bm), (running_var, bv)):
                if buf is not None:
                    a = buf.array
                    a *= 1.0 - momentum
                    a += momentum * stat.astype(a.dtype, copy=False)
                    buf._bump()
    return _affine(out, weight, bias, c, op)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """Local response normalisation across channels (Krizhevsky et al., 2012), PyTorch's form::

        y_c = x_c / (k + alpha / size · Σ_{c' in window(c)} x_{c'}²)^beta

    The window spans channels ``c − size//2 .. c + (size−1)//2`` (zero outside), and the
    sum is divided by ``size`` whatever the border, as PyTorch's average pooling does.
    """
    op = "local_response_norm"
    _check_input(input, op, 3)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ArgumentError(f"{op}: size must be a positive int, got {size!r}")
    c = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    xp = input.device.xp
    parts = []
    for pad in (before, after):
        shape = (input.shape[0], pad) + tuple(input.shape[2:])
        parts.append(Tensor._make(xp.zeros(shape, dtype=input.dtype), input.device))
    padded = cat([parts[0], sq, parts[1]], axis=1)
    window = padded[:, 0:c]
    for j in range(1, size):
        window = window + padded[:, j:j + c]
    div = (window * (alpha / size) + k) ** beta
    return input / div


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes (Zhang & Sennrich, 2019)::

        y = x / sqrt(mean(x², over the last len(normalized_shape) axes) + eps) · weight

    Unlike layer norm there is no centring and no bias. ``eps`` defaults to the machine
    epsilon of the input's dtype (``torch.finfo(dtype).eps``), as in PyTorch; ``weight``
    (of shape ``normalized_shape``) is optional. A composite: autograd gives every order.
    """
    op = "rms_norm"
    _check_input(input, op, 1)
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or k > input.ndim or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"{op}: normalized_shape {shape} must match the last axes of the input, got input "
                         f"of shape {tuple(input.shape)}")
    if weight is not None:
        if not isinstance(weight, Tensor):
            raise TypeError(f"{op}: weight must be a Tensor or None, got {type(weight).__name__}")
        if tuple(weight.shape) != shape:
            raise ShapeError(f"{op}: weight must have the shape normalized_shape {shape}, got {tuple(weight.shape)}")
    eps = float(_np.finfo(input.array.dtype).eps) if eps is None else float(eps)
    axes = tuple(range(input.ndim - k, input.ndim))
    ms = (input * input).mean(axis=axes, keepdims=True)
    out = input / (ms + eps) ** 0.5
    return out if weight is None else out * weight
