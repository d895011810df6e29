"""Weight initialisation (``nn.init``), in place, PyTorch's names and formulas.

Why it matters: the scale of the initial weights decides whether activations and
gradients keep their size through many layers. For a layer with ``fan_in`` inputs and
``fan_out`` outputs:

* Xavier/Glorot (tanh, sigmoid): ``Var(w) = gain² · 2 / (fan_in + fan_out)``;
* Kaiming/He (ReLU family):       ``Var(w) = gain² / fan``  (fan = fan_in or fan_out);

a uniform distribution ``U(−a, a)`` has variance ``a²/3``, which gives the bounds below.
Every function draws from the global generator (``tn.manual_seed`` makes it
reproducible), writes into the tensor under ``no_grad`` and returns it.
"""
from __future__ import annotations

import math
import warnings

import numpy as _np

from ..backend.errors import ShapeError
from ..autograd.grad_mode import no_grad
from ..tensor.random import resolve
from ..tensor.tensor import Tensor


def _check(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fn}: expected a Tensor, got {type(tensor).__name__}")


def _write(tensor, host_values):
    """Copy host values into ``tensor`` in place (its dtype and device), bumping its version."""
    dev = tensor.device
    arr = _np.asarray(host_values, dtype=tensor.dtype).reshape(tensor.shape)
    with no_grad():
        tensor.array[...] = dev.from_host(arr) if dev.xp.__name__ != "numpy" else arr
        tensor._bump()
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu: √(2 / (1 + slope²)) with
    slope ``param`` (default 0.01); selu: 3/4.
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of linear, conv1d/2d/3d, "
        "sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)``: for a weight (out, in, *kernel), fan_in = in·∏kernel, fan_out = out·∏kernel."""
    if tensor.ndim < 2:
        raise ShapeError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported; use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with draws from U(a, b) (from ``generator``, a :class:`tn.Generator`, or the global one)."""
    _check(tensor, "uniform_")
    return _write(tensor, resolve(generator).uniform(a, b, size=tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with draws from N(mean, std²)."""
    _check(tensor, "normal_")
    return _write(tensor, resolve(generator).normal(mean, std, size=tensor.shape))


def constant_(tensor, val: float):
    """Fill with ``val``."""
    _check(tensor, "constant_")
    return _write(tensor, _np.full(tensor.shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(−a, a) with ``a = gain · √(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010)."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std²) with ``std = gain · √(2 / (fan_in + fan_out))``."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(−bound, bound) with ``bound = gain · √(3 / fan)`` (He et al., 2015).

    ``a`` is the negative slope for ``leaky_relu``. ``nn.Linear``'s default weight uses
    ``a=√5``, which gives ``bound = 1/√fan_in``.
    """
    _check(tensor, "kaiming_uniform_")
    fan = _fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan) if fan > 0 else 0.0
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std²) with ``std = gain / √fan`` (He et al., 2015)."""
    _check(tensor, "kaiming_normal_")
    fan = _fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan) if fan > 0 else 0.0
    return normal_(tensor, 0.0, std, generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """N(mean, std²) redrawn until inside [a, b] (rejection sampling)."""
    _check(tensor, "trunc_normal_")
    gen = resolve(generator)
    n = int(_np.prod(tensor.shape))
    out = _np.empty(n)
    filled = 0
    while filled < n:
        draw = gen.normal(mean, std, size=2 * (n - filled) + 8)
        draw = draw[(draw >= a) & (draw <= b)][: n - filled]
        out[filled:filled + draw.size] = draw
        filled += draw.size
    return _write(tensor, out)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the tensor viewed
    as (rows = shape[0], cols = the rest), the Q of the QR decomposition of a standard-normal
    matrix (of its transpose when rows < cols), signs fixed so R has a positive diagonal, which
    makes Q uniformly (Haar) distributed. Rows (or columns) come out orthonormal, so the layer
    preserves norms at initialisation."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ShapeError(f"nn.init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = resolve(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = _np.linalg.qr(flat)
    q = q * _np.sign(_np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, q * gain)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the main diagonal, also for a rectangular one):
    a Linear layer then passes its inputs through."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ShapeError(f"nn.init.eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _write(tensor, _np.eye(*tensor.shape))


def dirac_(tensor, groups: int = 1):
    """Fill a 3-, 4- or 5-D convolution weight (out, in, *kernel) with the Dirac delta: output channel
    ``d`` of each of the ``groups`` copies the input channel ``d`` at the kernel's centre, so the
    convolution is the identity on as many channels as possible."""
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ShapeError(f"nn.init.dirac_: only tensors with 3, 4, or 5 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if not isinstance(groups, int) or groups < 1 or tensor.shape[0] % groups != 0:
        raise ValueError(f"nn.init.dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    out = _np.zeros(tensor.shape)
    per = tensor.shape[0] // groups
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per, tensor.shape[1])):
            out[(g * per + d, d) + centre] = 1
    return _write(tensor, out)


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """Fill a 2-D tensor from N(0, std²), then set ``ceil(sparsity · rows)`` random entries of every
    column to zero (Martens, 2010: sparse initialisation for deep networks)."""
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ShapeError(f"nn.init.sparse_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"nn.init.sparse_: sparsity must be in [0, 1], got {sparsity}")
    rows, cols = tensor.shape
    gen = resolve(generator)
    num_zeros = int(math.ceil(float(sparsity) * rows))
    vals = gen.normal(0.0, std, size=(rows, cols))
    for c in range(cols):
        vals[gen.permutation(rows)[:num_zeros], c] = 0
    return _write(tensor, vals)


def _deprecated(new):
    old = new.__name__[:-1]

    def fn(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = old
    fn.__doc__ = f"Deprecated alias of :func:`{new.__name__}` (PyTorch's, with its FutureWarning)."
    return fn


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)


__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "orthogonal_", "eye_",
           "dirac_", "sparse_", "uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


def default_weight_and_bias_(weight, bias, fan_in: int):
    """PyTorch's default initialisation of Linear and convolution layers: ``weight`` from
    ``kaiming_uniform_(a=sqrt(5))`` (uniform in ±1/sqrt(fan_in)) and ``bias`` (if not None)
    uniform in ±1/sqrt(fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)

