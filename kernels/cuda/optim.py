"""Fused optimizer updates on the GPU: one thread per element, one pass per parameter.

Twins of ``kernels/cpu/optim.py`` (same names, signatures and input handling): thread
``i`` runs the update of element ``i`` from ``kernels/optim_update.py``, compiled here with
``numba.cuda.jit(device=True)``; the per-call scalars come from the same ``*_scalars``
functions as on the cpu. Arrays are flat, of one floating dtype (CuPy arrays on a GPU,
NumPy arrays under the CUDA simulator). The gradient, which is only read, is converted to
a C-contiguous array of the parameter's dtype (a copy only when it is not one already);
the parameter and the state arrays are updated in place whatever their layout (see
:func:`._launch.launch_in_place`).
"""
from __future__ import annotations

from numba import cuda

from ..optim_update import (adadelta_scalars, adadelta_update, adagrad_scalars, adagrad_update, adam_scalars,
                            adam_update, rmsprop_scalars, rmsprop_update, sgd_scalars, sgd_update)
from ._launch import array_module, launch_in_place, prepare

_sgd_update = cuda.jit(device=True)(sgd_update)
_adam_update = cuda.jit(device=True)(adam_update)
_rmsprop_update = cuda.jit(device=True)(rmsprop_update)
_adagrad_update = cuda.jit(device=True)(adagrad_update)
_adadelta_update = cuda.jit(device=True)(adadelta_update)

_STAND_INS = {}


def _or_stand_in(optional, param):
    """An unused optional state array arrives empty; hand the kernel a one-element stand-in
    (never read, since its flag is off) so no zero-size array is launched with. Not ``param``
    itself: the simulator copies each argument back after the launch, and a second copy of
    ``param`` would overwrite the update."""
    if optional.shape[0] != 0:
        return optional
    xp = array_module(param)
    key = (xp.__name__, param.dtype)
    if key not in _STAND_INS:
        _STAND_INS[key] = xp.zeros(1, dtype=param.dtype)
    return _STAND_INS[key]


# Kernel arguments: the arrays written in place first, then the gradient and the scalars.
@cuda.jit
def _sgd_kernel(param, buf, grad, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    i = cuda.grid(1)
    if i < param.shape[0]:
        _sgd_update(i, param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize,
                    first_step)


@cuda.jit
def _adam_kernel(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, decay, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize):
    i = cuda.grid(1)
    if i < param.shape[0]:
        _adam_update(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, beta1, one_minus_beta1, beta2,
                     one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad,
                     maximize)


@cuda.jit
def _rmsprop_kernel(param, square_avg, grad_avg, momentum_buf, grad, lr, alpha, one_minus_alpha, eps, weight_decay,
                    momentum, centered, maximize):
    i = cuda.grid(1)
    if i < param.shape[0]:
        _rmsprop_update(i, param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, one_minus_alpha, eps,
                        weight_decay, momentum, centered, maximize)


@cuda.jit
def _adagrad_kernel(param, state_sum, grad, decayed_lr, eps, weight_decay, maximize):
    i = cuda.grid(1)
    if i < param.shape[0]:
        _adagrad_update(i, param, grad, state_sum, decayed_lr, eps, weight_decay, maximize)


@cuda.jit
def _adadelta_kernel(param, square_avg, acc_delta, grad, lr, rho, one_minus_rho, eps, weight_decay, maximize):
    i = cuda.grid(1)
    if i < param.shape[0]:
        _adadelta_update(i, param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps, weight_decay, maximize)


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """SGD with momentum, in place (see ``kernels/cpu/optim.sgd_step``)."""
    launch_in_place(_sgd_kernel, param.shape[0], (param, _or_stand_in(buf, param)), prepare(grad, param.dtype),
                    *sgd_scalars(param.dtype, float(lr), float(momentum), float(dampening), float(weight_decay)),
                    bool(nesterov), bool(maximize), bool(first_step))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              step, decoupled, amsgrad, maximize):
    """One Adam/AdamW step, in place (see ``kernels/cpu/optim.adam_step``)."""
    launch_in_place(_adam_kernel, param.shape[0], (param, exp_avg, exp_avg_sq, _or_stand_in(max_exp_avg_sq, param)),
                    prepare(grad, param.dtype),
                    *adam_scalars(param.dtype, float(lr), float(beta1), float(beta2), float(eps), float(weight_decay),
                                  int(step)),
                    bool(decoupled), bool(amsgrad), bool(maximize))


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, maximize):
    """One RMSprop step, in place (see ``kernels/cpu/optim.rmsprop_step``)."""
    launch_in_place(_rmsprop_kernel, param.shape[0],
                    (param, square_avg, _or_stand_in(grad_avg, param), _or_stand_in(momentum_buf, param)),
                    prepare(grad, param.dtype),
                    *rmsprop_scalars(param.dtype, float(lr), float(alpha), float(eps), float(weight_decay),
                                     float(momentum)),
                    bool(centered), bool(maximize))


def adagrad_step(param, grad, state_sum, lr, lr_decay, eps, weight_decay, step, maximize):
    """One Adagrad step, in place (see ``kernels/cpu/optim.adagrad_step``)."""
    launch_in_place(_adagrad_kernel, param.shape[0], (param, state_sum), prepare(grad, param.dtype),
                    *adagrad_scalars(param.dtype, float(lr), float(lr_decay), float(eps), float(weight_decay),
                                     int(step)),
                    bool(maximize))


def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step, in place (see ``kernels/cpu/optim.adadelta_step``)."""
    launch_in_place(_adadelta_kernel, param.shape[0], (param, square_avg, acc_delta), prepare(grad, param.dtype),
                    *adadelta_scalars(param.dtype, float(lr), float(rho), float(eps), float(weight_decay)),
                    bool(maximize))
