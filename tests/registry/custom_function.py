"""Registry entries for PyTorch-style custom functions (``tn.autograd.Function``): the
engine node behind them (``CustomOp``) must give the same gradients as any op, on every
device, in both dtypes and layouts, and differentiate again."""
import numpy as np

import tinynet as tn

from . import ELEMENTWISE, OpEntry, _n


class _Cube(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x * ctx.scale, None


class _MulExp(tn.autograd.Function):
    """Two inputs, two outputs (a*b, exp(a)); the second output saved for backward."""

    @staticmethod
    def forward(ctx, a, b):
        e = a.exp()
        ctx.save_for_backward(a, b, e)
        return a * b, e

    @staticmethod
    def backward(ctx, g_prod, g_exp):
        a, b, e = ctx.saved_tensors
        return g_prod * b + g_exp * e, g_prod * a


ENTRIES = [
    OpEntry("custom_function_cube", lambda a: _Cube.apply(a, 0.5), lambda r: [_n(r, 3, 4)],
            lambda a: a ** 3 * 0.5, layouts=ELEMENTWISE),
    OpEntry("custom_function_two_outputs", lambda a, b: sum(o.sum() for o in _MulExp.apply(a, b)),
            lambda r: [_n(r, 2, 3), _n(r, 2, 3)], lambda a, b: (a * b).sum() + np.exp(a).sum()),
]
