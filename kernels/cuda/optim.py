"""Fused optimizer updates on the GPU: one thread per element, one pass per parameter.

Twins of ``kernels/cpu/optim.py`` (same names, same signatures, same formulas): the
parameter, its gradient and the optimizer state are flat contiguous arrays of one
floating dtype (CuPy arrays on a GPU, NumPy arrays under the CUDA simulator), updated in
place. The grid is sized from the element count (``blocks_for``), each thread guards
against the partial last block, and launches go on CuPy's current stream. Scalars are
passed in the arrays' dtype and the kernels hold no float literals, so float32
parameters are updated in float32 arithmetic, like the cpu kernels.
"""
from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, stream_for


_DUMMIES = {}


def _or_param(optional, param):
    """An unused optional state array arrives empty; hand the kernel a one-element stand-in
    (never read, since its flag is off) so no zero-size array is launched with. Not ``param``
    itself: the simulator copies each argument back after the launch, and a second copy of
    ``param`` would overwrite the update."""
    if optional.shape[0] != 0:
        return optional
    xp = array_module(param)
    key = (xp.__name__, param.dtype)
    if key not in _DUMMIES:
        _DUMMIES[key] = xp.zeros(1, dtype=param.dtype)
    return _DUMMIES[key]


@cuda.jit
def _sgd_kernel(param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    g = grad[i]
    if maximize:
        g = -g
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


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """SGD with momentum, in place (see ``kernels/cpu/optim.sgd_step``)."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    _sgd_kernel[blocks_for(n), THREADS, stream_for(param)](
        param, grad, _or_param(buf, param), t(lr), t(momentum), t(1.0 - dampening), t(weight_decay),
        bool(nesterov), bool(maximize), bool(first_step))


@cuda.jit
def _adam_kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize):
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    g = grad[i]
    if maximize:
        g = -g
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


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              step, decoupled, amsgrad, maximize):
    """One Adam/AdamW step, in place (see ``kernels/cpu/optim.adam_step``)."""
    n = param.shape[0]
    if n == 0:
        return
    step_size = float(lr) / (1.0 - float(beta1) ** step)
    bc2_sqrt = math.sqrt(1.0 - float(beta2) ** step)
    t = param.dtype.type
    _adam_kernel[blocks_for(n), THREADS, stream_for(param)](
        param, grad, exp_avg, exp_avg_sq, _or_param(max_exp_avg_sq, param),
        t(1.0 - float(lr) * float(weight_decay)), t(beta1), t(1.0 - float(beta1)), t(beta2),
        t(1.0 - float(beta2)), t(eps), t(weight_decay), t(step_size), t(bc2_sqrt),
        bool(decoupled), bool(amsgrad), bool(maximize))


@cuda.jit
def _rmsprop_kernel(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps,
                    weight_decay, momentum, centered, maximize):
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    g = grad[i]
    if maximize:
        g = -g
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


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, maximize):
    """One RMSprop step, in place (see ``kernels/cpu/optim.rmsprop_step``)."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    _rmsprop_kernel[blocks_for(n), THREADS, stream_for(param)](
        param, grad, square_avg, _or_param(grad_avg, param), _or_param(momentum_buf, param),
        t(lr), t(alpha), t(1.0 - float(alpha)), t(eps),
        t(weight_decay), t(momentum), bool(centered), bool(maximize))


@cuda.jit
def _adagrad_kernel(param, grad, state_sum, clr, eps, weight_decay, maximize):
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    g = grad[i]
    if maximize:
        g = -g
    if weight_decay != 0.0:
        g = g + weight_decay * param[i]
    s = state_sum[i] + g * g
    state_sum[i] = s
    param[i] -= clr * g / (math.sqrt(s) + eps)


def adagrad_step(param, grad, state_sum, lr, lr_decay, eps, weight_decay, step, maximize):
    """One Adagrad step, in place (see ``kernels/cpu/optim.adagrad_step``)."""
    n = param.shape[0]
    if n == 0:
        return
    clr = float(lr) / (1.0 + (step - 1) * float(lr_decay))
    t = param.dtype.type
    _adagrad_kernel[blocks_for(n), THREADS, stream_for(param)](
        param, grad, state_sum, t(clr), t(eps), t(weight_decay), bool(maximize))
