"""``tn.func``: PyTorch's ``torch.func`` names that tinynet has.

``functional_call(module, params_and_buffers, args, kwargs)`` runs a module with substituted
parameters and buffers (differentiable with respect to them) and restores it afterwards;
see ``tinynet.nn.utils.stateless``.
"""
from __future__ import annotations

from .nn.utils.stateless import call_with

__all__ = ["functional_call"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` (a dict of dotted
    name -> tensor, or a tuple of such dicts with distinct keys) in place of the module's
    parameters and buffers of those names; the module is restored afterwards, also on error.
    Differentiable with respect to the given tensors. ``tie_weights``: a tensor registered under
    several names is replaced under all of them; ``strict``: the names must be exactly the
    module's. ``args``: one value or a tuple. PyTorch's ``torch.func.functional_call``."""
    return call_with(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict)
