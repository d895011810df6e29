"""GELU and its derivative at one point, written once as plain Python for both devices.

``kernels/cpu/gelu.py`` compiles these with ``numba.njit`` (inlined into its loops over the
elements) and ``kernels/cuda/gelu.py`` with ``numba.cuda.jit(device=True)`` (one GPU thread
per element), both through ``kernels/_math_module.compile_math``.

GELU multiplies its input by a gate ``p`` between 0 and 1::

    exact  GELU(v) = v Phi(v),              Phi the standard normal CDF
    tanh   GELU(v) = 0.5 v (1 + tanh u) = v sigmoid(2u),   u = sqrt(2/pi) (v + 0.044715 v^3)

and its derivative is ``GELU'(v) = p + v p'(v)``, with ``p' = phi(v)`` (the normal pdf,
``exp(-v^2/2) / sqrt(2 pi)``) for the exact form and ``p' = 2 s (1 - s) du/dv``,
``s = sigmoid(2u)``, for the tanh form.

Both gates are written to keep their digits in the negative tail: Phi comes from ``erfc``
(``Phi(v) = erfc(-v / sqrt 2) / 2``) rather than ``(1 + erf) / 2``, which loses every digit
to cancellation below about v = -5, and ``sigmoid(2u)`` rather than ``0.5 (1 + tanh u)``.

``exp`` and ``erfc`` (below) are the names a device may bind differently: the cpu float32
kernels bind the vectorisable float32 ``exp32`` and ``erfc32`` of ``kernels/cpu/_vecmath.py``
(which read a float64 argument as exact: the float64 constants here form ``-v / sqrt 2``
and ``-v^2 / 2`` to float64 precision for float32 v, and with them the tails' digits); float64 kernels and
the GPU keep libm's (fast GPU intrinsics on a GPU).
"""
import math

#: The exponential of an argument <= 0 (a device may bind a faster one valid only there).
exp = math.exp
#: The complementary error function (a device may bind a faster approximation).
erfc = math.erfc

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def sigmoid2(u):
    """sigmoid(2u) = 0.5 (1 + tanh u), without the cancellation of 1 + tanh(u) for u << 0."""
    e = exp(-2.0 * abs(u))
    return 1.0 / (1.0 + e) if u >= 0 else e / (1.0 + e)


def normal_cdf(v):
    """Phi(v) = erfc(-v / sqrt 2) / 2 (not (1 + erf) / 2: see the module docstring)."""
    return 0.5 * erfc(-v * INV_SQRT_2)


def gate(v, tanh_approx):
    """The factor GELU multiplies v by: Phi(v), or sigmoid(2u) for the tanh form."""
    if tanh_approx:
        return sigmoid2(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))
    return normal_cdf(v)


def gelu_grad_from_gate(v, p, tanh_approx):
    """GELU'(v) = p + v p'(v), given the gate ``p = gate(v, tanh_approx)``."""
    if tanh_approx:
        du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
        return p + v * 2.0 * p * (1.0 - p) * du
    return p + v * exp(-0.5 * v * v) * INV_SQRT_2PI


def gelu(v, tanh_approx):
    return v * gate(v, tanh_approx)


def gelu_grad(v, tanh_approx):
    return gelu_grad_from_gate(v, gate(v, tanh_approx), tanh_approx)


def gelu_and_grad(v, tanh_approx):
    """``(GELU(v), GELU'(v))`` sharing the gate (one erfc or exp for both)."""
    p = gate(v, tanh_approx)
    return v * p, gelu_grad_from_gate(v, p, tanh_approx)
