"""The optimizers' update of one parameter element, written once as plain Python for both devices.

``kernels/cpu/optim.py`` compiles the ``*_update`` functions with ``numba.njit`` (inlined
into its loop over the elements, serial or ``prange``) and ``kernels/cuda/optim.py`` with
``numba.cuda.jit(device=True)`` (one GPU thread per element), so SGD, Adam/AdamW, RMSprop
and Adagrad cannot drift apart between the devices. Each update reads element ``i`` of the
parameter, its gradient and the optimizer's state once and writes them back once: a
NumPy-written Adam step makes about ten passes over memory (scale the moments, add the
gradient terms, square root, divide, subtract, ...), each allocating a temporary; this is
one pass, in place.

The formulas are PyTorch's (``g`` is the gradient, negated with ``maximize``; ``t`` the
step count, 1 on the first update)::

    SGD      g += wd·p;  momentum: b = g (first step) or μ·b + (1 − dampening)·g,
             g = g + μ·b (Nesterov) or b;                   p −= lr·g
    Adam     g += wd·p (Adam) or p ·= 1 − lr·wd (AdamW, "decoupled")
             m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²  (amsgrad: v̂ = max(v̂, v), used for v)
             p −= lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
    RMSprop  g += wd·p;  s = α·s + (1 − α)·g²;  centered: ḡ = α·ḡ + (1 − α)·g, d = √(s − ḡ²) + eps,
             else d = √s + eps;  momentum: b = μ·b + g/d, p −= lr·b;  else p −= lr·g/d
    Adagrad  g += wd·p;  s += g²;  p −= lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)
    Adadelta g += wd·p;  v = ρ·v + (1 − ρ)·g²;  Δ = √(u + eps)/√(v + eps)·g;
             u = ρ·u + (1 − ρ)·Δ²;  p −= lr·Δ

Everything that does not depend on the element (bias corrections, the decayed learning
rate, ``1 − β``) is computed once per call on the host by the ``*_scalars`` functions
below, which both devices' wrappers call. They return the scalars in the arrays' dtype,
and the update functions hold no float literals outside comparisons, so float32
parameters are updated in float32 arithmetic (as PyTorch does) instead of being widened
to float64 and back.
"""
from __future__ import annotations

import functools
import math


# --- per-call scalars (host) ---------------------------------------------------------------
# Cached: a small model's step calls a kernel per tensor with the same hyperparameters, and
# building ten NumPy scalars per call would cost more than updating a few hundred numbers.
@functools.lru_cache(maxsize=512)
def sgd_scalars(dtype, lr, momentum, dampening, weight_decay):
    """``(lr, momentum, 1 − dampening, weight_decay)`` in ``dtype``."""
    t = dtype.type
    return t(lr), t(momentum), t(1.0 - dampening), t(weight_decay)


@functools.lru_cache(maxsize=512)
def adam_scalars(dtype, lr, beta1, beta2, eps, weight_decay, step):
    """``(1 − lr·wd, β1, 1 − β1, β2, 1 − β2, eps, wd, lr/(1 − β1ᵗ), √(1 − β2ᵗ))`` in ``dtype``."""
    t = dtype.type
    step_size = lr / (1.0 - beta1 ** step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
    return (t(1.0 - lr * weight_decay), t(beta1), t(1.0 - beta1), t(beta2), t(1.0 - beta2), t(eps),
            t(weight_decay), t(step_size), t(bias_correction2_sqrt))


@functools.lru_cache(maxsize=512)
def rmsprop_scalars(dtype, lr, alpha, eps, weight_decay, momentum):
    """``(lr, α, 1 − α, eps, wd, μ)`` in ``dtype``."""
    t = dtype.type
    return t(lr), t(alpha), t(1.0 - alpha), t(eps), t(weight_decay), t(momentum)


@functools.lru_cache(maxsize=512)
def adagrad_scalars(dtype, lr, lr_decay, eps, weight_decay, step):
    """``(lr/(1 + (t − 1)·lr_decay), eps, wd)`` in ``dtype``."""
    t = dtype.type
    return t(lr / (1.0 + (step - 1) * lr_decay)), t(eps), t(weight_decay)


@functools.lru_cache(maxsize=512)
def adadelta_scalars(dtype, lr, rho, eps, weight_decay):
    """``(lr, ρ, 1 − ρ, eps, wd)`` in ``dtype``."""
    t = dtype.type
    return t(lr), t(rho), t(1.0 - rho), t(eps), t(weight_decay)


# --- the update of element i (compiled for each device) ------------------------------------
def sgd_update(i, param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize,
               first_step):
    """SGD with momentum; ``buf`` is not touched when ``momentum == 0``."""
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


def adam_update(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
                one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize):
    """Adam (``decoupled=False``) or AdamW (``decoupled=True``; ``decay = 1 − lr·wd``);
    ``max_exp_avg_sq`` is touched only with ``amsgrad``."""
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
        # a comparison, not max(): the builtin stops the inlined cpu loop from vectorising
        vmax = v if v > max_exp_avg_sq[i] else max_exp_avg_sq[i]
        max_exp_avg_sq[i] = vmax
        denom = math.sqrt(vmax) / bias_correction2_sqrt + eps
    else:
        denom = math.sqrt(v) / bias_correction2_sqrt + eps
    param[i] = p - step_size * m / denom


def rmsprop_update(i, param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps,
                   weight_decay, momentum, centered, maximize):
    """RMSprop; ``grad_avg`` is touched only when ``centered``, ``momentum_buf`` only when
    ``momentum > 0``.

    The arrays are returned only to keep them in use up to the last line: inlined into the
    cpu loop, an array whose last use sits inside a branch keeps a reference-count update
    per element, which stops the loop from vectorising (about 20x slower); callers ignore
    the value."""
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
    return param, grad, square_avg, grad_avg, momentum_buf


def adagrad_update(i, param, grad, state_sum, decayed_lr, eps, weight_decay, maximize):
    """Adagrad; ``decayed_lr = lr/(1 + (t − 1)·lr_decay)``."""
    g = -grad[i] if maximize else grad[i]
    if weight_decay != 0.0:
        g = g + weight_decay * param[i]
    s = state_sum[i] + g * g
    state_sum[i] = s
    param[i] -= decayed_lr * g / (math.sqrt(s) + eps)


def adadelta_update(i, param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps, weight_decay, maximize):
    """Adadelta: ``square_avg`` (v) and ``acc_delta`` (u) are PyTorch's state names."""
    g = -grad[i] if maximize else grad[i]
    if weight_decay != 0.0:
        g = g + weight_decay * param[i]
    v = rho * square_avg[i] + one_minus_rho * g * g
    square_avg[i] = v
    delta = math.sqrt(acc_delta[i] + eps) / math.sqrt(v + eps) * g
    acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
    param[i] -= lr * delta
