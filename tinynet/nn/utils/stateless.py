"""Running a module with other parameters and buffers (``tn.func.functional_call``, PyTorch's
``torch.func.functional_call``; ``nn.utils.stateless.functional_call`` is its deprecated form).

``functional_call(model, {"fc.weight": w}, (x,))`` runs ``model(x)`` with ``w`` in place of the
parameter ``fc.weight`` (names as in ``named_parameters``/``named_buffers``; the others keep
their values) and then puts the module back exactly as it was, also when the forward
raises. The substituted tensors may carry history (``w = p - lr * g``), so the result is
differentiable with respect to them: meta-learning, per-example gradients, ensembling.
"""
from __future__ import annotations

import warnings

from ...tensor.tensor import Tensor
from ..module import Module

__all__ = ["call_with", "functional_call"]

_MISSING = object()


def _merge(dicts):
    if isinstance(dicts, dict) or (hasattr(dicts, "keys") and hasattr(dicts, "__getitem__")):
        return dict(dicts)
    if not isinstance(dicts, (tuple, list)):
        raise TypeError(f"functional_call: expected a dict of name -> tensor or a tuple of them, got "
                        f"{type(dicts).__name__}")
    out = {}
    for d in dicts:
        for k in d:
            if k in out:
                raise ValueError(f"{k} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        out.update(d)
    return out


def _tied_names(module):
    """``{name: [every name of the same tensor]}`` for parameters and buffers registered under
    several names (tied weights)."""
    by_id = {}
    for name, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        by_id.setdefault(id(t), []).append(name)
    return {n: names for names in by_id.values() if len(names) > 1 for n in names}


def _locate(module, name):
    prefix, _, leaf = name.rpartition(".")
    try:
        return module.get_submodule(prefix), leaf
    except AttributeError:
        return None, leaf


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """PyTorch's deprecated ``torch.nn.utils.stateless.functional_call`` (with its FutureWarning):
    the same as ``tn.func.functional_call`` (:func:`call_with`)."""
    warnings.warn("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be removed "
                  "in a future version of PyTorch. Please use `torch.func.functional_call` instead which is a "
                  "drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return call_with(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)


def call_with(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
              strict: bool = False):
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` (a dict, or a
    tuple of dicts with distinct keys) in place of the module's parameters and buffers of those
    names (see the module docstring). ``tie_weights``: a tensor registered under several names
    (tied weights) is replaced under all of them when one is given (giving different values
    for tied names is an error). ``strict``: the names must be exactly the module's parameters
    and buffers. ``args`` may be one value or a tuple."""
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: expected an nn.Module, got {type(module).__name__}")
    values = _merge(parameter_and_buffer_dicts)
    for k, v in values.items():
        if not isinstance(k, str):
            raise TypeError(f"functional_call: names must be strings, got {type(k).__name__}")
        if v is not None and not isinstance(v, Tensor):
            raise TypeError(f"functional_call: the value for {k!r} must be a Tensor, got {type(v).__name__}")
    if tie_weights:
        tied = _tied_names(module)
        for k in list(values):
            for other in tied.get(k, ()):
                if other in values and values[other] is not values[k]:
                    raise ValueError(f"functional_call got multiple values for keys {sorted([k, other])}, which are "
                                     "tied. Consider using tie_weights=False")
                values.setdefault(other, values[k])
    if strict:
        names = {n for n, _ in module.named_parameters(remove_duplicate=False)} | \
            {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing = sorted(names - set(values))
        unexpected = sorted(set(values) - names)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n"
                               + (f"\tUnexpected key(s): {', '.join(map(repr, unexpected))}.\n" if unexpected else "")
                               + (f"\tMissing key(s): {', '.join(map(repr, missing))}." if missing else ""))
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    kwargs = {} if kwargs is None else kwargs
    undo = []
    try:
        for name, value in values.items():
            owner, leaf = _locate(module, name)
            if owner is None:
                raise AttributeError(f"functional_call: {type(module).__name__} has no submodule for {name!r}")
            for table in ("_parameters", "_buffers"):
                tab = owner.__dict__[table]
                if leaf in tab:
                    undo.append((tab, leaf, tab[leaf]))
                    tab[leaf] = value
                    break
            else:
                old = owner.__dict__.get(leaf, _MISSING)
                undo.append((owner, leaf, old))
                object.__setattr__(owner, leaf, value)
        return module(*args, **kwargs)
    finally:
        for where, leaf, old in reversed(undo):
            if isinstance(where, dict):
                where[leaf] = old
            elif old is _MISSING:
                where.__dict__.pop(leaf, None)
            else:
                object.__setattr__(where, leaf, old)
