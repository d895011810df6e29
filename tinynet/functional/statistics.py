"""Statistics: counts and histograms (bincount, histc, histogram), finite differences and
integrals (diff, trapezoid, cumulative_trapezoid), quantiles (quantile, nanquantile),
covariance and correlation (cov, corrcoef) and renorm, with PyTorch's names and arguments.

Counts and histograms are not differentiable (as in PyTorch); the rest are compositions of
differentiable ops (sort, gather, matmul, cumsum, ...), so their gradients, and gradients of
gradients, come from autograd:

* ``quantile(x, q)`` sorts along ``dim`` and interpolates between the order statistics at
  positions q (n - 1) (``interpolation`` picks linear, lower, higher, midpoint or nearest);
* ``cov(X)`` (variables in rows, observations in columns) is
  sum_i w_i (x_i - mean_w)(x_i - mean_w)^T / (sum w - correction * sum(w a) / sum w),
  with w = fweights * aweights (NumPy's and PyTorch's formula);
* ``trapezoid(y, x)`` is sum (y_{i+1} + y_i) (x_{i+1} - x_i) / 2 along ``dim``.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import float_input, normalize_axis, operand
from .elementwise import clamp, sqrt, where
from .indexing import gather
from .inplace import inplace
from .join import cat, stack
from .layout import diagonal, movedim, narrow
from .linalg import matmul, vector_norm
from .scan import cumsum
from .sorting import sort

__all__ = ["bincount", "corrcoef", "cov", "cumulative_trapezoid", "diff", "histc", "histogram", "nanquantile",
           "quantile", "renorm", "trapezoid", "trapz"]


def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


# --- counts and histograms (not differentiable) ---------------------------------------------------
def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ..., max occurs in a 1-D non-negative integer tensor
    (``torch.bincount``); with ``weights`` (same length), the sum of the weights per value.
    The result has at least ``minlength`` bins. Not differentiable."""
    _tensor(input, "bincount")
    if input.ndim != 1 or input.array.dtype.kind not in "iub":
        raise ShapeError(f"bincount: expected a 1-D integer tensor, got shape {tuple(input.shape)} {input.dtype}")
    if not isinstance(minlength, numbers.Integral) or minlength < 0:
        raise ArgumentError(f"bincount: minlength must be a non-negative int, got {minlength!r}")
    arr = input.array.astype("int64")
    if arr.size and int(arr.min()) < 0:
        raise ArgumentError(f"bincount: input must be non-negative, its smallest value is {int(arr.min())}")
    xp = input.device.xp
    if weights is None:
        return Tensor._make(xp.bincount(arr, minlength=minlength).astype("int64"), input.device)
    _tensor(weights, "bincount")
    if weights.device is not input.device:
        raise DeviceError(f"bincount: input is on {input.device.type} but weights on {weights.device.type}; "
                          f"move them to one device, e.g. `weights.to('{input.device.type}')`")
    if tuple(weights.shape) != tuple(input.shape):
        raise ShapeError(f"bincount: weights must have the input's shape {tuple(input.shape)}, got "
                         f"{tuple(weights.shape)}")
    w = weights.array
    dt = w.dtype if w.dtype.kind == "f" else _dt.float64.dtype
    return Tensor._make(xp.bincount(arr, weights=w.astype("float64"), minlength=minlength).astype(dt), input.device)


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal-width bins between ``min`` and ``max`` (``torch.histc``);
    when min == max the data's own range is used; elements outside are ignored. The result has
    the input's float dtype. Not differentiable."""
    _tensor(input, "histc")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"histc: expected a floating tensor, got {input.dtype}; convert it, e.g. `x.float()`")
    if not isinstance(bins, numbers.Integral) or bins <= 0:
        raise ArgumentError(f"histc: bins must be a positive int, got {bins!r}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise ArgumentError(f"histc: max ({hi}) must be larger than or equal to min ({lo})")
    arr = input.array.reshape(-1)
    xp = input.device.xp
    if lo == hi and arr.size:
        lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    inside = arr[(arr >= lo) & (arr <= hi)]
    counts, _ = xp.histogram(inside.astype("float64"), bins=bins, range=(lo, hi))
    return Tensor._make(counts.astype(input.array.dtype), input.device)


histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """A histogram of ``input`` (``torch.histogram``): ``bins`` an int (equal-width bins over
    ``range``, default the data's min and max) or a 1-D tensor of increasing edges; ``weight``
    weighs each element; ``density=True`` normalizes to a density (integral 1). Returns the
    named tuple ``(hist, bin_edges)`` in the input's float dtype. Not differentiable."""
    _tensor(input, "histogram")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"histogram: expected a floating tensor, got {input.dtype}; convert it, e.g. `x.float()`")
    xp = input.device.xp
    arr = input.array.reshape(-1).astype("float64")
    w = None
    if weight is not None:
        _tensor(weight, "histogram")
        if tuple(weight.shape) != tuple(input.shape):
            raise ShapeError(f"histogram: weight must have the input's shape {tuple(input.shape)}, got "
                             f"{tuple(weight.shape)}")
        w = weight.array.reshape(-1).astype("float64")
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.numel() < 2:
            raise ShapeError(f"histogram: bins as a tensor must be 1-D with at least 2 edges, got shape "
                             f"{tuple(bins.shape)}")
        edges = bins.array.astype("float64")
        if bool((edges[1:] < edges[:-1]).any()):
            raise ArgumentError("histogram: bin edges must increase monotonically")
        counts, edges = xp.histogram(arr, bins=edges, weights=w, density=density)
    else:
        if not isinstance(bins, numbers.Integral) or bins <= 0:
            raise ArgumentError(f"histogram: bins must be a positive int or a 1-D tensor of edges, got {bins!r}")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
            if lo > hi:
                raise ArgumentError(f"histogram: range {tuple(range)} must have min <= max")
        elif arr.size:
            lo, hi = float(arr.min()), float(arr.max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # NumPy's and PyTorch's widening of an empty range
        counts, edges = xp.histogram(arr, bins=int(bins), range=(lo, hi), weights=w, density=density)
    dt = input.array.dtype
    return histogram_result(Tensor._make(counts.astype(dt), input.device),
                            Tensor._make(edges.astype(dt), input.device))


# --- differences and integrals --------------------------------------------------------------------
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (``torch.diff``): out[i] = x[i+1] - x[i], applied
    ``n`` times, after concatenating ``prepend`` and ``append`` along ``dim``. Bool tensors give
    x[i+1] != x[i]. Differentiable."""
    _tensor(input, "diff")
    if input.ndim == 0:
        raise ShapeError("diff: expected a tensor of at least 1 dimension, got a 0-d tensor")
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ArgumentError(f"diff: n must be a non-negative int, got {n!r}")
    d = normalize_axis(dim, input.ndim, "diff")
    parts = []
    for extra, name in ((prepend, "prepend"), (append, "append")):
        if extra is None:
            parts.append(None)
            continue
        if not isinstance(extra, Tensor):
            extra = operand(extra, input)
        if extra.ndim == 0:
            shape = list(input.shape)
            shape[d] = 1
            extra = extra.expand(*shape)
        parts.append(extra)
    x = input
    if parts[0] is not None or parts[1] is not None:
        x = cat([t for t in (parts[0], input, parts[1]) if t is not None], dim=d)
    for _ in range(int(n)):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1)
        x = hi != lo if x.array.dtype.kind == "b" else hi - lo
    return x


def _dx_along(y, x, dx, d, op):
    """The spacings along axis ``d`` of ``y``: diff(x) (x 1-D or of y's shape) or the number dx."""
    if x is None:
        return 1.0 if dx is None else dx
    if dx is not None:
        raise TypeError(f"{op}: give either x or dx, not both")
    if not isinstance(x, Tensor):
        x = operand(x, y) if isinstance(x, numbers.Number) else Tensor(x, device=y.device)
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise ShapeError(f"{op}: x has {x.shape[0]} points but y has {y.shape[d]} along dim {d} "
                             f"(shape {tuple(y.shape)}); they must match")
        spacing = diff(x)
        shape = [1] * y.ndim
        shape[d] = spacing.shape[0]
        return spacing.reshape(*shape)
    if x.ndim != y.ndim:
        raise ShapeError(f"{op}: x of shape {tuple(x.shape)} must be 1-D or have y's number of dimensions "
                         f"(y has shape {tuple(y.shape)})")
    return diff(x, dim=d)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal-rule integral of ``y`` along ``dim`` (``torch.trapezoid``): with sample
    points ``x`` (a 1-D tensor or one of y's shape) or an even spacing ``dx`` (default 1)."""
    _tensor(y, "trapezoid")
    y = float_input(y)
    if y.ndim == 0:
        raise ShapeError("trapezoid: expected y of at least 1 dimension, got a 0-d tensor")
    d = normalize_axis(dim, y.ndim, "trapezoid")
    if isinstance(x, numbers.Number) and dx is None:  # trapezoid(y, 0.5): a spacing given positionally
        x, dx = None, x
    n = y.shape[d]
    spacing = _dx_along(y, x, dx, d, "trapezoid")
    if n == 0:
        return (y * 0).sum(dim=d)
    mids = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5
    return (mids * spacing).sum(dim=d)


def trapz(y, x=None, *, dx=None, dim=-1):
    """``torch.trapz``: the older name of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral of ``y`` along ``dim`` (``torch.cumulative_trapezoid``):
    one fewer element than ``y`` along ``dim``."""
    _tensor(y, "cumulative_trapezoid")
    y = float_input(y)
    if y.ndim == 0:
        raise ShapeError("cumulative_trapezoid: expected y of at least 1 dimension, got a 0-d tensor")
    d = normalize_axis(dim, y.ndim, "cumulative_trapezoid")
    if isinstance(x, numbers.Number) and dx is None:
        x, dx = None, x
    n = y.shape[d]
    spacing = _dx_along(y, x, dx, d, "cumulative_trapezoid")
    if n <= 1:
        return narrow(y, d, 0, 0)
    mids = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5
    return cumsum(mids * spacing, dim=d)


# --- quantiles ------------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, op):
    _tensor(input, op)
    if input.array.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating tensor, got {input.dtype}; convert it, e.g. `x.float()`")
    if interpolation not in _INTERPOLATIONS:
        raise ArgumentError(f"{op}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    xp = input.device.xp
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if not isinstance(q, numbers.Real):
            raise TypeError(f"{op}: q must be a number or a Tensor, got {type(q).__name__}")
        qs = xp.asarray([float(q)], dtype="float64")
    else:
        if q.ndim > 1:
            raise ShapeError(f"{op}: q must be a scalar or a 1-D tensor, got shape {tuple(q.shape)}")
        if q.device is not input.device:
            raise DeviceError(f"{op}: input is on {input.device.type} but q on {q.device.type}; move q, "
                              f"e.g. `q.to('{input.device.type}')`")
        if q.array.dtype != input.array.dtype:
            raise DTypeError(f"{op}: q ({q.dtype}) must have the input's dtype ({input.dtype})")
        scalar_q = q.ndim == 0
        qs = q.array.reshape(-1).astype("float64")
    if qs.size and (bool((qs < 0).any()) or bool((qs > 1).any())):
        raise ArgumentError(f"{op}: q values must be in the range [0, 1], got {qs.tolist()}")
    if dim is None:
        x = input.reshape(-1)
        d = 0
    else:
        d = normalize_axis(dim, input.ndim, op)
        x = movedim(input, d, -1) if input.ndim else input.reshape(1)
    if x.shape[-1] == 0:
        raise ArgumentError(f"{op}: input tensor is empty along the reduced dimension (shape {tuple(input.shape)})")
    s = sort(x, dim=-1).values  # NaN sorts last
    n = s.shape[-1]
    nan_rows = xp.isnan(x.array).any(axis=-1, keepdims=True)
    if ignore_nan:
        count = (~xp.isnan(x.array)).sum(axis=-1, keepdims=True)
        last = xp.maximum(count - 1, 0).astype("float64")
        all_nan = count == 0
    else:
        last = xp.full(x.shape[:-1] + (1,), float(n - 1))
        all_nan = nan_rows
    outs = []
    for qv in qs.tolist():
        pos = qv * last
        lo = xp.floor(pos)
        hi = xp.minimum(xp.ceil(pos), last)
        frac = pos - lo
        if interpolation == "nearest":
            lo = hi = xp.round(pos)  # half to even, as PyTorch and NumPy
        elif interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        v_lo = gather(s, -1, Tensor._make(lo.astype("int64"), s.device))
        v_hi = gather(s, -1, Tensor._make(hi.astype("int64"), s.device))
        if interpolation == "linear":
            w = Tensor._make(frac.astype(s.array.dtype), s.device)
            v = v_lo + (v_hi - v_lo) * w
        elif interpolation == "midpoint":
            v = (v_lo + v_hi) * 0.5
        else:
            v = v_lo
        bad = Tensor._make(all_nan, s.device)
        v = where(bad, operand(float("nan"), v), v)
        outs.append(v)  # (..., 1)
    out = stack(outs, dim=0)  # (k, ..., 1)
    if dim is None:
        out = out.reshape(len(outs), *([1] * input.ndim)) if keepdim else out.reshape(len(outs))
    elif keepdim:
        out = movedim(out, -1, d + 1) if input.ndim else out.reshape(len(outs))
    else:
        out = out.squeeze(-1)
    return out[0] if scalar_q else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles of ``input`` along ``dim`` (all elements when None), as
    ``torch.quantile``: ``q`` a number in [0, 1] or a 1-D tensor of them (a leading axis of the
    result). The value at position q (n - 1) of the sorted data, between two order statistics
    by ``interpolation``: "linear" (the default), "lower", "higher", "midpoint" or "nearest".
    A row containing NaN gives NaN. Differentiable (through the sort)."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """:func:`quantile` ignoring NaN (``torch.nanquantile``): the quantiles of each row's non-NaN
    values; NaN only for a row that is all NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# --- covariance, correlation, renorm --------------------------------------------------------------
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns; a 1-D input is one variable, giving a 0-d variance), as ``torch.cov``:
    ``correction`` is Bessel's (1: unbiased, 0: the plain mean), ``fweights`` integer frequency
    weights and ``aweights`` observation weights, one per column. Differentiable."""
    _tensor(input, "cov")
    if input.ndim > 2:
        raise ShapeError(f"cov: expected a 1-D or 2-D tensor (variables x observations), got shape "
                         f"{tuple(input.shape)}")
    x = float_input(input)
    x2 = x.reshape(1, -1) if x.ndim < 2 else x
    n_obs = x2.shape[1]
    w = None
    if fweights is not None:
        _tensor(fweights, "cov")
        if fweights.ndim > 1 or fweights.numel() != n_obs:
            raise ShapeError(f"cov: fweights must be 1-D with one weight per observation ({n_obs}), got shape "
                             f"{tuple(fweights.shape)}")
        if fweights.array.dtype.kind not in "iu":
            raise DTypeError(f"cov: fweights must be an integer tensor, got {fweights.dtype}")
        if fweights.numel() and bool((fweights.array < 0).any()):
            raise ArgumentError("cov: fweights cannot be negative")
        w = fweights.reshape(-1).to(x2.dtype)
    if aweights is not None:
        _tensor(aweights, "cov")
        if aweights.ndim > 1 or aweights.numel() != n_obs:
            raise ShapeError(f"cov: aweights must be 1-D with one weight per observation ({n_obs}), got shape "
                             f"{tuple(aweights.shape)}")
        if aweights.array.dtype.kind != "f":
            raise DTypeError(f"cov: aweights must be a floating tensor, got {aweights.dtype}")
        if aweights.numel() and bool((aweights.array < 0).any()):
            raise ArgumentError("cov: aweights cannot be negative")
        aw = aweights.reshape(-1).to(x2.dtype)
        w = aw if w is None else w * aw
    if w is None:
        w_sum = float(n_obs)
        avg = x2.mean(dim=1, keepdim=True)
        fact = w_sum - correction
    else:
        w_sum = w.sum()
        avg = (x2 * w).sum(dim=1, keepdim=True) / w_sum
        fact = w_sum - correction * ((w * aw).sum() / w_sum) if aweights is not None else w_sum - correction
    xm = x2 - avg
    xw = xm * w if w is not None else xm
    c = matmul(xw, xm.transpose(0, 1))
    if isinstance(fact, Tensor):
        fact = clamp(fact, min=0.0)
    else:
        fact = max(fact, 0.0)
    c = c / fact
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input):
    """The Pearson correlation matrix of the variables in the rows of ``input``
    (``torch.corrcoef``): cov_ij / sqrt(cov_ii cov_jj), clipped to [-1, 1]. Differentiable."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = diagonal(c)
    sd = sqrt(d)
    r = c / sd.reshape(-1, 1) / sd.reshape(1, -1)
    return clamp(r, -1.0, 1.0)


def renorm(input, p, dim, maxnorm):
    """``input`` with each slice along ``dim`` (``input.select(dim, i)``) whose ``p``-norm exceeds
    ``maxnorm`` scaled down to norm ``maxnorm`` (``torch.renorm``; the others unchanged).
    Differentiable."""
    _tensor(input, "renorm")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"renorm: expected a floating tensor, got {input.dtype}")
    if input.ndim < 2:
        raise ShapeError(f"renorm: expected a tensor of at least 2 dimensions, got shape {tuple(input.shape)}")
    if not isinstance(p, numbers.Real) or p <= 0:
        raise ArgumentError(f"renorm: p must be a positive number, got {p!r}")
    if not isinstance(maxnorm, numbers.Real) or maxnorm < 0:
        raise ArgumentError(f"renorm: maxnorm must be a non-negative number, got {maxnorm!r}")
    d = normalize_axis(dim, input.ndim, "renorm")
    others = tuple(i for i in range(input.ndim) if i != d)
    norms = vector_norm(input, p, dim=others, keepdim=True)
    scale = where(norms > maxnorm, maxnorm / (norms + 1e-7), operand(1.0, norms))
    return input * scale


renorm_ = inplace(renorm, "renorm_")
