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
from .engine import (_post_accumulate, _store_leaf_grad, grad, register_post_accumulate_grad_hook, run_backward,
                     topological_order)
from .op import Op, GraphFreedError
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from ..backend.errors import DeviceError, ShapeError

__all__ = ["Function", "FunctionCtx", "once_differentiable", "Op", "GraphFreedError", "backward", "grad",
           "run_backward", "topological_order", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "functional",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "register_post_accumulate_grad_hook"]


def _seed(t, g, i):
    """The gradient to start from at output ``t`` (``g``, or ones for a one-element output)."""
    if g is None:
        if t.array.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, but output {i} has "
                               f"shape {tuple(t.shape)}; pass grad_tensors (one per output, of its shape)")
        return t._make(t.device.xp.ones_like(t.array), t.device)
    if not (hasattr(g, "array") and hasattr(g, "grad_fn")):
        g = t._make(t.device.xp.asarray(g, dtype=t.array.dtype), t.device)
    if tuple(g.shape) != tuple(t.shape):
        raise ShapeError(f"backward: grad_tensors[{i}] has shape {tuple(g.shape)} but output {i} has shape "
                         f"{tuple(t.shape)}; they must match")
    if g.device is not t.device:
        raise DeviceError(f"backward: grad_tensors[{i}] is on {g.device.type} but output {i} is on {t.device.type}; "
                          f"move it with `.to('{t.device.type}')`")
    return g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into ``.grad``.

    PyTorch's ``torch.autograd.backward``: ``tensors`` is a Tensor or a sequence of them;
    ``grad_tensors`` one gradient per tensor (None allowed for one-element tensors, which
    get 1). The graph is freed afterwards unless ``retain_graph`` (default:
    ``create_graph``). With ``inputs`` (a Tensor or a non-empty sequence), only those
    tensors' ``.grad`` are accumulated into (non-leaf ones too), and the rest of the graph
    is left alone; an input the outputs do not depend on keeps its ``.grad``.
    """
    if grad_variables is not None:  # PyTorch's deprecated name
        if grad_tensors is not None:
            raise RuntimeError("backward: give grad_tensors or grad_variables (its old name), not both")
        grad_tensors = grad_variables
    tensors = [tensors] if hasattr(tensors, "grad_fn") else list(tensors)
    if grad_tensors is None or hasattr(grad_tensors, "grad_fn"):
        grad_tensors = [grad_tensors] * (1 if grad_tensors is not None else len(tensors))
    else:
        grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: got {len(grad_tensors)} grad_tensors for {len(tensors)} tensors; give one "
                           "per tensor")
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"backward: element {i} of tensors does not require grad and does not have a grad_fn")
    seeds = [_seed(t, g, i) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph)
        return
    inputs = [inputs] if hasattr(inputs, "grad_fn") else list(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] (shape {tuple(t.shape)}) does not require grad; every tensor "
                               "in inputs= must require grad")
    results = run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph, capture=inputs)
    stored, done = set(), set()
    for t, g in zip(inputs, results):
        if g is None or id(t) in done:
            continue
        done.add(id(t))
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
        else:
            _store_leaf_grad(t, g.array, stored)
        _post_accumulate(t)
