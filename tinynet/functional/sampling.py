"""Random sampling: ``multinomial bernoulli normal poisson`` and the in-place fills
``x.bernoulli_() x.uniform_(a, b) x.normal_(mean, std) x.random_(from, to) x.exponential_()
x.geometric_(p) x.log_normal_() x.cauchy_()`` (PyTorch's names, arguments and defaults).

Every draw comes from tinynet's global generator (``tn.manual_seed`` makes it
reproducible), or from the ``generator=`` passed (a ``tn.Generator`` or a NumPy ``Generator``). Numbers are drawn
on the host and moved to the tensor's device, so one seed gives the same samples on cpu
and cuda. Samples carry no gradient (as in PyTorch, where these ops have none).

The in-place fills are bound as Tensor methods through the one in-place mechanism
(:mod:`tinynet.functional.inplace`): on a leaf that requires grad they are refused unless
run under ``tn.no_grad()`` (as in PyTorch; ``tinynet.nn.init`` does exactly that).
"""
from __future__ import annotations

import math

from ..backend import get_device
from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.random import resolve as _resolve_generator
from ..tensor.tensor import Tensor
from ._args import as_float, as_int

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "bernoulli", "multinomial", "normal", "poisson",
]


def _gen(generator, op):
    """The NumPy generator to draw from: that of ``generator`` (a :class:`tn.Generator` or a
    NumPy ``Generator``), or tinynet's global one when it is None."""
    try:
        return _resolve_generator(generator)
    except TypeError:
        raise TypeError(f"{op}: generator must be a tn.Generator, a NumPy Generator or None, "
                        f"got {type(generator).__name__}") from None


def _host(t):
    return t.device.to_host(t.array)


def _put(host, like_device, dtype):
    """A host array as a Tensor of ``dtype`` on ``like_device`` (no gradient)."""
    return Tensor._make(like_device.from_host(host.astype(dtype, copy=False)), like_device)


def _float_only(x, op):
    if x.array.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating tensor, got {x.dtype} (the samples are real numbers); "
                         "convert with .float() first")


# --- multinomial ---------------------------------------------------------------------------------
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw ``num_samples`` category indices from each row of non-negative weights ``input``.

    ``input`` is 1-D (one distribution) or 2-D (one per row); weights need not sum to 1.
    With ``replacement`` every draw is independent (inverse CDF of the normalised weights);
    without, each category is drawn at most once, in the order of sequential draws without
    replacement (done at once as the ``num_samples`` smallest ``E_i / w_i`` with
    ``E_i ~ Exp(1)``, which has exactly that distribution), so ``num_samples`` may not exceed
    the number of categories with positive weight. Returns int64 of shape
    ``(num_samples,)`` or ``(rows, num_samples)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a Tensor of weights, got {type(input).__name__}")
    n = as_int(num_samples, "num_samples", "multinomial", minimum=1)
    if input.ndim not in (1, 2):
        raise ShapeError(f"multinomial: input must be 1-D or 2-D (rows of category weights), got shape "
                         f"{tuple(input.shape)}")
    _float_only(input, "multinomial")
    w = _host(input).astype("float64").reshape(1 if input.ndim == 1 else input.shape[0], input.shape[-1])
    if not bool((w >= 0).all()) or not bool(abs(w).max(initial=0.0) < math.inf):
        raise ArgumentError("multinomial: the weights must be finite and non-negative (got a negative, inf or nan)")
    total = w.sum(axis=1, keepdims=True)
    if w.shape[1] == 0 or not bool((total > 0).all()):
        raise ArgumentError("multinomial: every row of weights must have a positive sum")
    positive = (w > 0).sum(axis=1)
    if not replacement and n > int(positive.min()):
        raise ArgumentError(f"multinomial: cannot draw {n} samples without replacement from a row with only "
                            f"{int(positive.min())} categories of positive weight; use replacement=True or fewer samples")
    gen = _gen(generator, "multinomial")
    if replacement:
        cdf = (w / total).cumsum(axis=1)
        cdf[:, -1] = 1.0
        u = gen.random((w.shape[0], n))
        # the category of u is the number of cdf entries <= u; a zero-weight category repeats
        # the cdf entry before it, so it is skipped (never drawn)
        out = u.astype("int64")
        for r in range(w.shape[0]):
            out[r] = cdf[r].searchsorted(u[r], side="right")
        out = out.clip(0, w.shape[1] - 1)
    else:
        with_weight = w > 0
        keys = gen.standard_exponential(w.shape) / (w + ~with_weight)
        keys[~with_weight] = math.inf
        out = keys.argsort(axis=1, kind="stable")[:, :n]
    out = out.reshape(n) if input.ndim == 1 else out
    return _put(out, input.device, _dt.int64)


# --- bernoulli ---------------------------------------------------------------------------------
def _check_probability(p, op):
    """``p`` (a host array or a float) must lie in [0, 1]."""
    ok = (0.0 <= p <= 1.0) if isinstance(p, float) else bool(((p >= 0) & (p <= 1)).all())
    if not ok:
        raise ArgumentError(f"{op}: probabilities must be in [0, 1], got values outside it (or nan)")


def bernoulli(input, p=None, *, generator=None):
    """Samples of 0 or 1 with probability ``input`` (or the scalar ``p`` for every element).

    The result has ``input``'s shape and dtype: ``out_i = 1`` with probability ``input_i``
    (``p`` when given), else 0. No gradient.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: input must be a Tensor, got {type(input).__name__}")
    if p is None:
        _float_only(input, "bernoulli")
        prob = _host(input).astype("float64")
    else:
        prob = as_float(p, "p", "bernoulli")
    _check_probability(prob, "bernoulli")
    draws = _gen(generator, "bernoulli").random(tuple(input.shape)) < prob
    return _put(draws, input.device, input.array.dtype)


# --- normal, poisson -----------------------------------------------------------------------------
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal samples with the given means and standard deviations (PyTorch's ``torch.normal``).

    Forms: ``normal(mean_tensor, std_tensor)`` (broadcast together), ``normal(mean_tensor,
    std=1.0)``, ``normal(mean=0.0, std_tensor)``, ``normal(mean, std, size)`` with numbers
    (``size`` required then). The result takes the tensors' dtype and device (numbers alone:
    ``dtype``/``device``, default dtype on cpu). ``std`` must be non-negative. The samples
    carry no gradient to ``mean`` or ``std``; ``requires_grad=True`` makes the result a leaf.
    """
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size= is only for number mean and std; with a tensor the shape comes from it")
        if len(tensors) == 2 and mean.device is not std.device:
            raise DeviceError(f"normal: mean is on {mean.device.type} but std on {std.device.type}; "
                              "move one with .to(...)")
        dev = tensors[0].device
        kinds = [t.array.dtype for t in tensors if t.array.dtype.kind == "f"]
        if not kinds:
            raise DTypeError("normal: mean/std tensors must be floating (got integer tensors); convert with .float()")
        dt = _dt.to_dtype(dtype) if dtype is not None else kinds[0]
        m = _host(mean).astype("float64") if isinstance(mean, Tensor) else as_float(mean, "mean", "normal")
        sd = _host(std).astype("float64") if isinstance(std, Tensor) else as_float(std, "std", "normal")
        try:
            shape = tuple((m * 0.0 + sd * 0.0).shape)  # the broadcast shape of mean and std
        except ValueError:
            raise ShapeError(f"normal: mean of shape {tuple(getattr(m, 'shape', ()))} and std of shape "
                             f"{tuple(getattr(sd, 'shape', ()))} cannot be broadcast together") from None
    else:
        if size is None:
            raise DTypeError("normal: with number mean and std give the output size, e.g. normal(0.0, 1.0, (2, 3))")
        dev = get_device(device) if device is not None else get_device("cpu")
        dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        m, sd = as_float(mean, "mean", "normal"), as_float(std, "std", "normal")
        shape = (as_int(size, "size", "normal"),) if not isinstance(size, (tuple, list)) else tuple(
            as_int(n, "size", "normal", minimum=0) for n in size)
    low = sd if isinstance(sd, float) else (sd.min() if sd.size else 0.0)
    if not low >= 0:
        raise ArgumentError(f"normal: std must be non-negative, got {float(low)}")
    draws = _gen(generator, "normal").standard_normal(shape) * sd + m
    out = _put(draws, dev, dt)
    return out.requires_grad_() if requires_grad else out


def poisson(input, generator=None):
    """Poisson samples with rates ``input`` (non-negative): same shape and dtype. No gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"poisson: input must be a Tensor of rates, got {type(input).__name__}")
    _float_only(input, "poisson")
    rate = _host(input).astype("float64")
    if not bool((rate >= 0).all()):
        raise ArgumentError("poisson: rates must be non-negative (got a negative value or nan)")
    return _put(_gen(generator, "poisson").poisson(rate), input.device, input.array.dtype)


# --- the in-place fills (bound as x.<name>_ in methods.py through inplace()) ------------------------
def _fill(x, draws):
    """A new tensor like ``x`` (shape, dtype, device) holding the host samples ``draws``."""
    return _put(draws, x.device, x.array.dtype)


def bernoulli_fill(x, p=0.5, *, generator=None):
    """``x.bernoulli_(p=0.5)``: each element becomes 1 with probability ``p`` (a number or a
    tensor broadcast to ``x``), else 0."""
    if isinstance(p, Tensor):
        try:
            prob = _host(p.detach().broadcast_to(tuple(x.shape))).astype("float64")
        except ValueError:
            raise ShapeError(f"bernoulli_: p of shape {tuple(p.shape)} can't be broadcast to the tensor's "
                             f"shape {tuple(x.shape)}") from None
    else:
        prob = as_float(p, "p", "bernoulli_")
    _check_probability(prob, "bernoulli_")
    return _fill(x, _gen(generator, "bernoulli_").random(tuple(x.shape)) < prob)


def uniform_fill(x, a=0.0, b=1.0, *, generator=None, **kw):
    """``x.uniform_(from=0, to=1)``: uniform samples on [from, to)."""
    a, b = kw.pop("from", a), kw.pop("to", b)
    _no_extra(kw, "uniform_")
    _float_only(x, "uniform_")
    a, b = as_float(a, "from", "uniform_"), as_float(b, "to", "uniform_")
    if a > b:
        raise ArgumentError(f"uniform_: expects from <= to, got from={a} and to={b}")
    return _fill(x, _gen(generator, "uniform_").uniform(a, b, size=tuple(x.shape)))


def normal_fill(x, mean=0.0, std=1.0, *, generator=None):
    """``x.normal_(mean=0, std=1)``: normal samples."""
    _float_only(x, "normal_")
    mean, std = as_float(mean, "mean", "normal_"), as_float(std, "std", "normal_")
    if std < 0:
        raise ArgumentError(f"normal_: std must be non-negative, got {std}")
    return _fill(x, _gen(generator, "normal_").normal(mean, std, size=tuple(x.shape)))


def _random_span(dtype):
    """The default range of ``random_()``: [0, 2**mantissa digits] for floats (every integer
    exactly representable), [0, max] for integers, {0, 1} for bool (PyTorch's choice)."""
    if dtype.kind == "b":
        return 0, 2
    if dtype.kind == "f":
        return 0, 2 ** {2: 11, 4: 24, 8: 53}[dtype.itemsize] + 1
    bits = 8 * dtype.itemsize - (1 if dtype.kind == "i" else 0)
    return 0, min(2 ** bits, 2 ** 63 - 1)  # [0, max]: the generator's bound is exclusive


def random_fill(x, from_=None, to=None, *, generator=None, **kw):
    """``x.random_()``, ``x.random_(to)``, ``x.random_(from, to)``: integers uniform on
    [from, to) (as values of ``x``'s dtype). Without bounds: [0, 2**mantissa] for floats,
    [0, max] for integers (PyTorch's defaults)."""
    if "from" in kw:
        from_ = kw.pop("from")
    _no_extra(kw, "random_")
    dt = x.array.dtype
    if from_ is None and to is None:
        lo, hi = _random_span(dt)
    elif to is None:
        lo, hi = 0, as_int(from_, "to", "random_")
    else:
        lo = 0 if from_ is None else as_int(from_, "from", "random_")
        hi = as_int(to, "to", "random_")
    if lo >= hi:
        raise ArgumentError(f"random_: expects from < to, got from={lo} and to={hi}")
    return _fill(x, _gen(generator, "random_").integers(lo, hi, size=tuple(x.shape)))


def exponential_fill(x, lambd=1.0, *, generator=None):
    """``x.exponential_(lambd=1)``: samples of density ``lambd * exp(-lambd * v)``."""
    _float_only(x, "exponential_")
    lambd = as_float(lambd, "lambd", "exponential_")
    if not lambd > 0:
        raise ArgumentError(f"exponential_: lambd must be positive, got {lambd}")
    return _fill(x, _gen(generator, "exponential_").exponential(1.0 / lambd, size=tuple(x.shape)))


def geometric_fill(x, p, *, generator=None):
    """``x.geometric_(p)``: the number of Bernoulli(``p``) trials up to the first success (1, 2, ...)."""
    p = as_float(p, "p", "geometric_")
    if not 0 < p <= 1:
        raise ArgumentError(f"geometric_: p must be in (0, 1], got {p}")
    return _fill(x, _gen(generator, "geometric_").geometric(p, size=tuple(x.shape)))


def log_normal_fill(x, mean=1.0, std=2.0, *, generator=None):
    """``x.log_normal_(mean=1, std=2)``: ``exp`` of normal(``mean``, ``std``) samples."""
    _float_only(x, "log_normal_")
    mean, std = as_float(mean, "mean", "log_normal_"), as_float(std, "std", "log_normal_")
    if not std > 0:
        raise ArgumentError(f"log_normal_: std must be positive, got {std}")
    return _fill(x, _gen(generator, "log_normal_").lognormal(mean, std, size=tuple(x.shape)))


def cauchy_fill(x, median=0.0, sigma=1.0, *, generator=None):
    """``x.cauchy_(median=0, sigma=1)``: samples of density ``1 / (pi sigma (1 + ((v - median) / sigma)^2))``."""
    _float_only(x, "cauchy_")
    median, sigma = as_float(median, "median", "cauchy_"), as_float(sigma, "sigma", "cauchy_")
    if not sigma > 0:
        raise ArgumentError(f"cauchy_: sigma must be positive, got {sigma}")
    return _fill(x, median + sigma * _gen(generator, "cauchy_").standard_cauchy(size=tuple(x.shape)))


def _no_extra(kw, op):
    if kw:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(kw)}")
