"""Weight normalisation, PyTorch's original API (``torch.nn.utils.weight_norm``).

Salimans & Kingma (2016) write a weight as a direction times a learned length,
``w = g · v / ‖v‖``, the norm taken over every dimension except ``dim`` (one length per
output unit for ``dim=0``; one scalar for ``dim=None``). Decoupling the length from the
direction makes gradient descent better conditioned. ``weight_norm(module)`` replaces the
parameter ``weight`` by two, ``weight_g`` (the lengths, shaped like ``w`` reduced to size 1
except along ``dim``) and ``weight_v`` (the direction), and recomputes ``weight`` from them
before every forward (a forward pre-hook). PyTorch deprecates this API in favour of
``nn.utils.parametrizations.weight_norm`` (same math; keys ``parametrizations.weight.original0/1``).
"""
from __future__ import annotations

import warnings

from ..module import Module
from ..parameter import Parameter
from .parametrize import _owned

__all__ = ["norm_except_dim", "remove_weight_norm", "weight_norm"]


def norm_except_dim(v, pow: float = 2, dim: int = 0):
    """The ``pow``-norm of ``v`` over every dimension except ``dim``, keeping dimensions (shape
    ``(1, .., v.shape[dim], .., 1)``); ``dim=-1`` (PyTorch's convention, which ``dim=None`` maps
    to) is the norm of the whole tensor, a 0-d tensor. Differentiable."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.ndim
    axes = tuple(a for a in range(v.ndim) if a != dim)
    if not axes:
        return v.abs() if pow == 1 else (v.abs() ** pow) ** (1.0 / pow)
    return ((v.abs() ** pow).sum(dim=axes, keepdim=True)) ** (1.0 / pow)


def _weight_norm(v, g, dim):
    """``v · g / ‖v‖`` (norm over every dimension except ``dim``), PyTorch's ``torch._weight_norm``."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook of :func:`weight_norm`: recomputes ``module.<name>`` from ``g`` and ``v``."""

    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        if name not in module._parameters or module._parameters[name] is None:
            raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
        fn = WeightNorm(name, dim)
        weight = module._parameters[name]
        if fn.dim != -1 and not -weight.ndim <= fn.dim < weight.ndim:
            raise IndexError(f"weight_norm: dim {dim} is out of range for {name} of shape {tuple(weight.shape)}")
        del module._parameters[name]
        g = norm_except_dim(weight.detach(), 2, fn.dim)
        module.register_parameter(name + "_g", Parameter(_owned(g)))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        object.__setattr__(module, name, fn.compute_weight(module))
        module._weight_norm_handles = getattr(module, "_weight_norm_handles", {})
        module._weight_norm_handles[name] = module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        object.__delattr__(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        module.register_parameter(self.name, Parameter(_owned(weight)))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int = 0):
    """Apply weight normalisation to ``module.<name>`` (see the module docstring); returns the module.
    ``dim=None`` normalises the whole tensor (one scalar ``g``). Deprecated in PyTorch (a
    FutureWarning, as there) in favour of ``nn.utils.parametrizations.weight_norm``."""
    if not isinstance(module, Module):
        raise TypeError(f"weight_norm: expected a Module, got {type(module).__name__}")
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo :func:`weight_norm`: ``module.<name>`` becomes one Parameter holding ``g · v / ‖v‖``."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            module._weight_norm_handles.pop(name).remove()
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


