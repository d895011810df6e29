"""Fused optimizer updates: one pass over a parameter per step.

A NumPy-written Adam step makes about ten passes over memory (scale the moments, add
the gradient terms, square root, divide, subtract, ...), each allocating a temporary.
Here every element is read once and written once: the parameter, its gradient and the
optimizer's state arrays are updated together in one loop, in place.

All arrays are flat (1-D), C-contiguous and of one floating dtype (float32 or float64);
the optimizer (``tinynet.optim``) passes ``p.data.reshape(-1)`` views. Scalars that do
not depend on the element (bias corrections, the decayed learning rate) are computed
once on the host and passed in. Each public function has a twin of the same name and
signature in ``kernels/cuda/optim.py``.

Large arrays run on all cores (``prange``); small ones run serially, because waking the
thread pool costs more than the update of a few thousand numbers.

Two details make the loops vectorise (SIMD): ``error_model="numpy"`` (Numba's default
Python error model checks every division for zero, which blocks vectorisation; a 1M
Adam step drops from ~10 ms to <1 ms), and every scalar is passed in the arrays' dtype
with no float literals in the loop, so float32 parameters are updated in float32
arithmetic (as PyTorch does) instead of being widened to float64 and back.
"""
from __future__ import annotations

import functools
import math

from numba import prange

from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel



# The per-call scalars, converted once to the arrays' dtype and cached: a small model's
# step calls a kernel per tensor with the same hyperparameters, and building ten NumPy
# scalars per call would cost more than updating a few hundred numbers.
@functools.lru_cache(maxsize=512)
def _sgd_scalars(dtype, lr, momentum, dampening, weight_decay):
    t = dtype.type
    return t(lr), t(momentum), t(1.0 - dampening), t(weight_decay)


@functools.lru_cache(maxsize=512)
def _adam_scalars(dtype, lr, beta1, beta2, eps, weight_decay, step):
    t = dtype.type
    step_size = lr / (1.0 - beta1 ** step)
    bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
    return (t(1.0 - lr * weight_decay), t(beta1), t(1.0 - beta1), t(beta2), t(1.0 - beta2), t(eps),
            t(weight_decay), t(step_size), t(bc2_sqrt))


@functools.lru_cache(maxsize=512)
def _rmsprop_scalars(dtype, lr, alpha, eps, weight_decay, momentum):
    t = dtype.type
    return t(lr), t(alpha), t(1.0 - alpha), t(eps), t(weight_decay), t(momentum)


@functools.lru_cache(maxsize=512)
def _adagrad_scalars(dtype, lr, lr_decay, eps, weight_decay, step):
    t = dtype.type
    return t(lr / (1.0 + (step - 1) * lr_decay)), t(eps), t(weight_decay)


# --- SGD --------------------------------------------------------------------------------
def _sgd_body(param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    n = param.shape[0]
    for i in prange(n):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0.0:
            g += weight_decay * param[i]
        if momentum != 0.0:
            if first_step:
                b = g
            else:
                b = momentum * buf[i] + one_minus_dampening * g
            buf[i] = b
            if nesterov:
                g = g + momentum * b
            else:
                g = b
        param[i] -= lr * g


_sgd_serial, _sgd_parallel = serial_and_parallel(_sgd_body, error_model="numpy")


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """SGD with momentum (PyTorch's rule), in place.

    ``g = ±grad + weight_decay·p``; with momentum ``buf = g`` on the first step, else
    ``buf = momentum·buf + (1 − dampening)·g``; then ``g = g + momentum·buf`` (Nesterov) or
    ``g = buf``; finally ``p −= lr·g``. ``buf`` may be empty when ``momentum == 0``.
    """
    fn = _sgd_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _sgd_serial
    fn(param, grad, buf, *_sgd_scalars(param.dtype, float(lr), float(momentum), float(dampening), float(weight_decay)),
       bool(nesterov), bool(maximize), bool(first_step))


# --- Adam / AdamW -----------------------------------------------------------------------
def _adam_body(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
               one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize):
    n = param.shape[0]
    for i in prange(n):
        g = -grad[i] if maximize else grad[i]
        p = param[i]
        if weight_decay != 0.0:
            if decoupled:
                p = p * decay
            else:
                g = g + weight_decay * p
        m = beta1 * exp_avg[i] + one_minus_beta1 * g
        v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            vmax = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = vmax
            denom = math.sqrt(vmax) / bias_correction2_sqrt + eps
        else:
            denom = math.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p - step_size * m / denom


_adam_serial, _adam_parallel = serial_and_parallel(_adam_body, error_model="numpy")


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              step, decoupled, amsgrad, maximize):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place.

    With ``t = step`` (1 on the first update)::

        g   = ±grad (+ weight_decay·p for Adam)     p = p·(1 − lr·weight_decay) for AdamW
        m   = β1·m + (1 − β1)·g
        v   = β2·v + (1 − β2)·g²                    v̂max = max(v̂max, v) with amsgrad
        p   = p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)

    ``max_exp_avg_sq`` may be empty unless ``amsgrad``.
    """
    fn = _adam_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _adam_serial
    fn(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
       *_adam_scalars(param.dtype, float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), int(step)),
       bool(decoupled), bool(amsgrad), bool(maximize))


# --- RMSprop ----------------------------------------------------------------------------
def _rmsprop_body(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps, weight_decay,
                  momentum, centered, maximize):
    n = param.shape[0]
    for i in prange(n):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0.0:
            g = g + weight_decay * param[i]
        sa = alpha * square_avg[i] + one_minus_alpha * g * g
        square_avg[i] = sa
        if centered:
            ga = alpha * grad_avg[i] + one_minus_alpha * g
            grad_avg[i] = ga
            avg = math.sqrt(sa - ga * ga) + eps
        else:
            avg = math.sqrt(sa) + eps
        if momentum > 0.0:
            b = momentum * momentum_buf[i] + g / avg
            momentum_buf[i] = b
            param[i] -= lr * b
        else:
            param[i] -= lr * g / avg


_rmsprop_serial, _rmsprop_parallel = serial_and_parallel(_rmsprop_body, error_model="numpy")


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, maximize):
    """One RMSprop step (PyTorch's rule), in place.

    ``s = α·s + (1 − α)·g²``; centered: ``ḡ = α·ḡ + (1 − α)·g`` and the denominator is
    ``√(s − ḡ²) + eps``, else ``√s + eps``; with momentum ``b = μ·b + g/denom``,
    ``p −= lr·b``, else ``p −= lr·g/denom``. ``grad_avg`` / ``momentum_buf`` may be empty
    when unused.
    """
    fn = _rmsprop_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _rmsprop_serial
    fn(param, grad, square_avg, grad_avg, momentum_buf,
       *_rmsprop_scalars(param.dtype, float(lr), float(alpha), float(eps), float(weight_decay), float(momentum)),
       bool(centered), bool(maximize))


# --- Adagrad ----------------------------------------------------------------------------
def _adagrad_body(param, grad, state_sum, clr, eps, weight_decay, maximize):
    n = param.shape[0]
    for i in prange(n):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0.0:
            g = g + weight_decay * param[i]
        s = state_sum[i] + g * g
        state_sum[i] = s
        param[i] -= clr * g / (math.sqrt(s) + eps)


_adagrad_serial, _adagrad_parallel = serial_and_parallel(_adagrad_body, error_model="numpy")


def adagrad_step(param, grad, state_sum, lr, lr_decay, eps, weight_decay, step, maximize):
    """One Adagrad step (PyTorch's rule), in place: ``s += g²``;
    ``p −= lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)`` with ``t = step`` (1 first)."""
    fn = _adagrad_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _adagrad_serial
    fn(param, grad, state_sum, *_adagrad_scalars(param.dtype, float(lr), float(lr_decay), float(eps),
                                                 float(weight_decay), int(step)), bool(maximize))
