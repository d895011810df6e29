"""Reverse-mode automatic differentiation: Op nodes, the backward engine, grad modes.

``tn.autograd.Function`` is PyTorch's custom-function API (``forward(ctx, ...)`` /
``backward(ctx, ...)``); tinynet's own ops derive from the engine's :class:`Op`.

``tn.autograd.grad`` computes gradients without touching ``.grad``; ``gradcheck`` and
``gradgradcheck`` compare them with finite differences.
"""
from .engine import grad, run_backward, topological_order
from .op import Op, GraphFreedError
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Function", "FunctionCtx", "once_differentiable", "Op", "GraphFreedError", "grad", "run_backward", "topological_order", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode", "is_inference_mode_enabled", "gradcheck", "gradgradcheck",
           "GradcheckError"]
