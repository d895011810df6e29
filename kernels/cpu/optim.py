"""Fused optimizer updates on the CPU: the loop over a parameter's elements.

The update of one element is written once, in ``kernels/optim_update.py`` (with the
formulas), and compiled here with ``numba.njit(inline="always")`` into a loop over the
elements; ``kernels/cuda/optim.py`` compiles the same functions for one GPU thread per
element. Large arrays run the ``prange`` variant of the loop on all cores, small ones the
serial variant (``kernels/policy.py``: waking the thread pool costs more than updating a
few thousand numbers).

Arrays are flat (1-D) and of the parameter's floating dtype (float32 or float64); the
optimizer (``tinynet.optim``) passes ``p.array.reshape(-1)`` views. Input handling, the
same on both devices: every array may have any layout (Numba indexes through the strides;
the parameter and the state arrays are updated in place); the gradient, which is only
read, is read in the parameter's dtype (converted when it has another). Only the dtype is
checked here, not the layout: a small model calls these once per tensor per step, and
every check costs the call time.

``error_model="numpy"`` lets the loops vectorise (SIMD): Numba's default Python error
model checks every division for zero, which blocks vectorisation.
"""
from __future__ import annotations

from numba import njit, prange

from ..optim_update import (adadelta_scalars, adadelta_update, adagrad_scalars, adagrad_update, adam_scalars,
                            adam_update, rmsprop_scalars, rmsprop_update, sgd_scalars, sgd_update)
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel

_sgd_update = njit(cache=True, inline="always")(sgd_update)
_adam_update = njit(cache=True, inline="always")(adam_update)
_rmsprop_update = njit(cache=True, inline="always")(rmsprop_update)
_adagrad_update = njit(cache=True, inline="always")(adagrad_update)
_adadelta_update = njit(cache=True, inline="always")(adadelta_update)


def _sgd_loop(param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    for i in prange(param.shape[0]):
        _sgd_update(i, param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize,
                    first_step)


def _adam_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
               one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize):
    for i in prange(param.shape[0]):
        _adam_update(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
                     one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad,
                     maximize)


def _rmsprop_loop(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps, weight_decay,
                  momentum, centered, maximize):
    for i in prange(param.shape[0]):
        _rmsprop_update(i, param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps,
                        weight_decay, momentum, centered, maximize)


def _adagrad_loop(param, grad, state_sum, decayed_lr, eps, weight_decay, maximize):
    for i in prange(param.shape[0]):
        _adagrad_update(i, param, grad, state_sum, decayed_lr, eps, weight_decay, maximize)


def _adadelta_loop(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps, weight_decay, maximize):
    for i in prange(param.shape[0]):
        _adadelta_update(i, param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps, weight_decay, maximize)


_sgd_serial, _sgd_parallel = serial_and_parallel(_sgd_loop, error_model="numpy")
_adam_serial, _adam_parallel = serial_and_parallel(_adam_loop, error_model="numpy")
_rmsprop_serial, _rmsprop_parallel = serial_and_parallel(_rmsprop_loop, error_model="numpy")
_adagrad_serial, _adagrad_parallel = serial_and_parallel(_adagrad_loop, error_model="numpy")
_adadelta_serial, _adadelta_parallel = serial_and_parallel(_adadelta_loop, error_model="numpy")


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """SGD with momentum (PyTorch's rule), in place; ``buf`` may be empty when ``momentum == 0``.
    Math: ``kernels/optim_update.sgd_update``."""
    if grad.dtype is not param.dtype:
        grad = grad.astype(param.dtype)
    fn = _sgd_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _sgd_serial
    fn(param, grad, buf, *sgd_scalars(param.dtype, float(lr), float(momentum), float(dampening), float(weight_decay)),
       bool(nesterov), bool(maximize), bool(first_step))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              step, decoupled, amsgrad, maximize):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place, with
    ``step`` = t (1 on the first update); ``max_exp_avg_sq`` may be empty unless ``amsgrad``.
    Math: ``kernels/optim_update.adam_update``."""
    if grad.dtype is not param.dtype:
        grad = grad.astype(param.dtype)
    fn = _adam_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _adam_serial
    fn(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
       *adam_scalars(param.dtype, float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), int(step)),
       bool(decoupled), bool(amsgrad), bool(maximize))


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, maximize):
    """One RMSprop step (PyTorch's rule), in place; ``grad_avg`` / ``momentum_buf`` may be
    empty when unused. Math: ``kernels/optim_update.rmsprop_update``."""
    if grad.dtype is not param.dtype:
        grad = grad.astype(param.dtype)
    fn = _rmsprop_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _rmsprop_serial
    fn(param, grad, square_avg, grad_avg, momentum_buf,
       *rmsprop_scalars(param.dtype, float(lr), float(alpha), float(eps), float(weight_decay), float(momentum)),
       bool(centered), bool(maximize))


def adagrad_step(param, grad, state_sum, lr, lr_decay, eps, weight_decay, step, maximize):
    """One Adagrad step (PyTorch's rule), in place, with ``step`` = t (1 first).
    Math: ``kernels/optim_update.adagrad_update``."""
    if grad.dtype is not param.dtype:
        grad = grad.astype(param.dtype)
    fn = _adagrad_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _adagrad_serial
    fn(param, grad, state_sum,
       *adagrad_scalars(param.dtype, float(lr), float(lr_decay), float(eps), float(weight_decay), int(step)),
       bool(maximize))


def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step (PyTorch's rule), in place. Math: ``kernels/optim_update.adadelta_update``."""
    if grad.dtype is not param.dtype:
        grad = grad.astype(param.dtype)
    fn = _adadelta_parallel if param.shape[0] >= CPU_PARALLEL_MIN_ELEMENTS["optim"] else _adadelta_serial
    fn(param, grad, square_avg, acc_delta,
       *adadelta_scalars(param.dtype, float(lr), float(rho), float(eps), float(weight_decay)), bool(maximize))
