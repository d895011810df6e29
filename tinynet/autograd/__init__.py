"""Reverse-mode automatic differentiation: Op nodes, the backward engine, grad modes.

``tn.autograd.grad`` computes gradients without touching ``.grad``; ``gradcheck`` and
``gradgradcheck`` compare them with finite differences.
"""
from .engine import grad, run_backward, topological_order
from .op import Op, GraphFreedError
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Op", "GraphFreedError", "grad", "run_backward", "topological_order", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "gradcheck", "gradgradcheck",
           "GradcheckError"]
