"""Reverse-mode automatic differentiation: Op nodes, the backward engine, grad modes.

``tn.autograd.Function`` is PyTorch's custom-function API (``forward(ctx, ...)`` /
``backward(ctx, ...)``); tinynet's own ops derive from the engine's :class:`Op`.

``tn.autograd.backward`` accumulates gradients into ``.grad`` (of every leaf, or only of
``inputs=``); ``tn.autograd.grad`` computes them without touching ``.grad``; ``gradcheck``
and ``gradgradcheck`` compare them with finite differences. ``tn.autograd.functional``
differentiates whole functions (jacobian, hessian, vjp, jvp, hvp, vhp), and
``detect_anomaly`` finds the op whose backward produced a NaN.
"""
from . import functional
from .anomaly_mode import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import (backward, grad, queue_callback, register_post_accumulate_grad_hook, run_backward,
                     topological_order)
from .op import Op, GraphFreedError
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Function", "FunctionCtx", "once_differentiable", "Op", "GraphFreedError", "backward", "grad",
           "run_backward", "topological_order", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "functional",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "register_post_accumulate_grad_hook", "queue_callback"]

