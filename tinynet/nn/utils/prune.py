"""Pruning: zeroing weights by a rule, PyTorch's ``torch.nn.utils.prune``.

Pruning removes the connections a network needs least, so the model gets sparse (and,
when whole channels go, smaller and faster; see :func:`tinynet.nn.utils.shrink.shrink`).
The mechanics are PyTorch's, a *reparametrisation* of one tensor of a module:

* the parameter ``name`` (say ``weight``) is renamed ``weight_orig`` (the same Parameter
  object, so an optimizer that holds it keeps training it);
* a buffer ``weight_mask`` of 0s and 1s (same shape and dtype) is registered, so masks
  travel in the ``state_dict`` (keys ``weight_orig``, ``weight_mask``, as PyTorch's);
* ``module.weight`` becomes a plain attribute holding ``weight_orig * weight_mask``,
  recomputed by a forward pre-hook before every call. Because it is a product, the
  gradient reaching ``weight_orig`` is ``grad * mask``: zero where pruned, so a pruned
  entry never comes back through training.

Pruning the same tensor again composes: the methods are kept in a :class:`PruningContainer`
and the new method only chooses among the entries (unstructured) or channels (structured)
that are still unpruned, so ``l1_unstructured(m, "weight", 0.5)`` twice prunes 50 % and
then 50 % of the remaining 50 %: 75 % in all. :func:`remove` makes the pruning permanent
(``weight`` is a Parameter again, holding the masked values; mask and ``_orig`` go).

``amount`` is either an int, the number of entries (channels) to prune, or a float in
[0, 1], the fraction: ``round(amount * n)`` entries (Python's round, half to even, as
PyTorch's). Selection rules:

* ``l1_unstructured``: the ``k`` entries of smallest ``|w|``;
* ``random_unstructured`` / ``random_structured``: ``k`` entries / channels at random
  (tinynet's global generator, so ``tn.manual_seed`` makes it repeatable);
* ``ln_structured(module, name, amount, n, dim)``: the ``k`` slices along ``dim`` (rows of a
  Linear weight and output channels of a Conv2d weight for ``dim=0``) of smallest ``n``-norm
  ``(sum |w|^n)^(1/n)`` over the other dimensions (``n`` may be ``inf``, ``-inf`` or 0, the
  number of non-zeros, as ``torch.norm``);
* ``global_unstructured(parameters, pruning_method, **kwargs)``: the rule applied to all the
  listed tensors *as one vector*, so layers end up with different sparsities: 80 % global
  L1 pruning removes the 80 % smallest magnitudes of the whole network.

Ties (equal magnitudes or norms) are broken by position: the entry earlier in row-major
order is pruned first (for ``l1``) and kept first (for ``ln_structured``), a stable sort.
PyTorch's ``topk`` gives no guarantee among ties, so masks equal PyTorch's whenever the
values are distinct (which real weights are).
"""
from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ...backend.errors import ArgumentError, DeviceError, ShapeError
from ...tensor import random as _random
from ...tensor.tensor import Tensor
from ..module import Module

__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured", "PruningContainer",
           "RandomStructured", "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity",
           "is_pruned", "l1_unstructured", "ln_structured", "random_structured", "random_unstructured", "remove"]


# --- helpers on raw arrays ----------------------------------------------------------------------
def _xp(t):
    return t.device.xp


def _wrap(array, device):
    return Tensor._make(array, device)


def _describe(module) -> str:
    """``Linear(64→128)``-style name of a module for messages."""
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return f"{type(module).__name__}({module.in_features}→{module.out_features})"
    if hasattr(module, "in_channels") and hasattr(module, "out_channels"):
        return f"{type(module).__name__}({module.in_channels}→{module.out_channels})"
    return type(module).__name__


def _stable_smallest(values, k, xp):
    """Flat indices of the ``k`` smallest of the 1-D ``values`` (ties: the earlier first)."""
    return xp.argsort(values, kind="stable")[:k] if xp.__name__ == "numpy" else xp.argsort(values)[:k]


def _stable_largest(values, k, xp):
    """Flat indices of the ``k`` largest of the 1-D ``values`` (ties: the earlier first)."""
    return _stable_smallest(-values, k, xp)


def _validate_pruning_amount_init(amount):
    """``amount`` must be an int >= 0 or a float in [0, 1] (checked when a method is made)."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount!r}. Must be int or float "
                        "(a number of entries to prune, or a fraction in [0, 1]).")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative "
                             "integer (the number of entries to prune)")
    elif not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer; "
                         "a fraction above 1 or below 0 cannot be pruned")


def _compute_nparams_toprune(amount, tensor_size):
    """How many of ``tensor_size`` entries ``amount`` prunes (an int as is; a fraction rounded)."""
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _validate_pruning_amount(amount, tensor_size):
    """An int ``amount`` must not exceed the number of entries (channels) there are to prune."""
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune="
                         f"{tensor_size}")


def _validate_structured_pruning(t):
    if t.ndim <= 1:
        raise ShapeError(f"Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {tuple(t.shape)} with {t.ndim} dims; prune a 1-D tensor (a bias) with an "
                         "unstructured method")


def _validate_pruning_dim(t, dim):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"structured pruning: dim must be an int, got {type(dim).__name__}")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}: dim must be in "
                         f"[{-t.ndim}, {t.ndim - 1}]")


def _compute_norm(t, n, dim):
    """The ``n``-norm of ``t`` over every dimension except ``dim`` (``torch.norm(t, p=n, dim=...)``):
    ``(sum |x|^n)^(1/n)``; ``inf``: max ``|x|``; ``-inf``: min ``|x|``; 0: the count of non-zeros;
    ``"fro"``: the 2-norm. Returns a 1-D array of ``t.shape[dim]`` norms (float64)."""
    xp = _xp(t)
    dim = dim % t.ndim
    axes = tuple(a for a in range(t.ndim) if a != dim)
    a = xp.abs(t.array.astype(xp.float64))
    if n == "fro":
        n = 2
    if isinstance(n, str) or not isinstance(n, numbers.Real):
        raise ArgumentError(f"ln_structured: n must be a number (1, 2, inf, -inf, 0) or 'fro', got {n!r}")
    if n == math.inf:
        return a.max(axis=axes)
    if n == -math.inf:
        return a.min(axis=axes)
    if n == 0:
        return (a != 0).sum(axis=axes).astype(xp.float64)
    return (a ** n).sum(axis=axes) ** (1.0 / n)


def _located(exc, cls, name, module):
    """``exc`` again (same class) with the method, tensor and layer named in front."""
    try:
        return type(exc)(f"{cls.__name__} of {name!r} in {_describe(module)}: {exc}")
    except Exception:  # an exception class that takes other arguments: report it as it is
        return exc


def _channel_index(ndim, dim, index):
    slc = [slice(None)] * ndim
    slc[dim] = index
    return tuple(slc)


# --- the methods ------------------------------------------------------------------------------
class BasePruningMethod(ABC):
    """A rule that computes a mask for a tensor; also the forward pre-hook that applies it.

    Subclasses set ``PRUNING_TYPE`` ("unstructured", "structured" with a ``dim`` attribute, or
    "global") and write :meth:`compute_mask`; :meth:`apply` installs the method on a module.
    """

    _tensor_name: str | None = None
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs):
        """Forward pre-hook: recompute ``module.<name>`` as ``<name>_orig * <name>_mask``."""
        object.__setattr__(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask (a Tensor shaped like ``t``) given the importance scores ``t`` and the
        mask so far ``default_mask`` (entries already pruned stay pruned)."""

    def apply_mask(self, module):
        """``<name>_orig * <name>_mask``: differentiable in ``_orig``, whose gradient is then
        zero at the pruned entries."""
        if self._tensor_name is None:
            raise RuntimeError(f"{_describe(module)} has to be pruned before its mask can be applied")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        if mask.dtype != orig.dtype:
            mask = mask.to(orig.dtype)
        return mask * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with earlier pruning of
        the same tensor through a :class:`PruningContainer`; returns the method (the hook)."""
        if not isinstance(module, Module):
            raise TypeError(f"{cls.__name__}.apply: expected a tn.nn.Module, got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"{cls.__name__}.apply: name must be a string, got {type(name).__name__}")
        old_method, old_keys = None, []
        for k, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_method = hook
                old_keys.append(k)
        if len(old_keys) > 1:
            raise RuntimeError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                               f"{_describe(module)}. Use a PruningContainer.")
        if old_method is None:
            param = module._parameters.get(name)
            if param is None:
                params = ", ".join(n for n, p in module._parameters.items() if p is not None) or "none"
                raise ArgumentError(
                    f"prune: {_describe(module)} has no parameter {name!r} to prune (its parameters: {params})")
        orig = getattr(module, name) if old_method is not None else module._parameters[name]
        if importance_scores is not None:
            if not isinstance(importance_scores, Tensor):
                raise TypeError(f"prune: importance_scores must be a Tensor, got {type(importance_scores).__name__}")
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise ShapeError(f"importance_scores should have the same shape as parameter {name} of "
                                 f"{_describe(module)}, got {tuple(importance_scores.shape)} vs {tuple(orig.shape)}")
            if importance_scores.device is not orig.device:
                raise DeviceError(f"prune: importance_scores are on {importance_scores.device.type} but {name} of "
                                  f"{_describe(module)} is on {orig.device.type}; move them with "
                                  f"`.to('{orig.device.type}')`")
        else:
            importance_scores = orig
        try:
            method = cls(*args, **kwargs)  # validates amount etc. before anything changes
        except (ValueError, TypeError) as exc:
            raise _located(exc, cls, name, module) from None
        method._tensor_name = name
        if old_method is not None:
            if isinstance(old_method, PruningContainer):
                old_method.add_pruning_method(method)
                method = old_method
            else:
                container = PruningContainer(old_method)
                container.add_pruning_method(method)
                method = container
        scores = importance_scores.detach()
        if old_method is None:
            xp = _xp(orig)
            default_mask = _wrap(xp.ones(orig.shape, dtype=orig.array.dtype), orig.device)
        else:
            mask_now = getattr(module, name + "_mask")
            default_mask = _wrap(mask_now.array.copy(), mask_now.device)
        try:
            mask = method.compute_mask(scores, default_mask=default_mask)  # nothing is changed yet
        except (ValueError, TypeError, IndexError) as exc:
            if isinstance(old_method, PruningContainer):  # it keeps only the methods actually applied
                old_method._pruning_methods = old_method._pruning_methods[:-1]
            raise _located(exc, cls, name, module) from None
        if old_method is None:
            del module._parameters[name]
            module.register_parameter(name + "_orig", orig)
        else:
            for k in old_keys:
                del module._forward_pre_hooks[k]
            module._refresh_hooks()
        module.register_buffer(name + "_mask", mask)
        object.__setattr__(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask this method computes (a pruned copy; nothing is installed)."""
        scores = importance_scores if importance_scores is not None else t
        if tuple(scores.shape) != tuple(t.shape):
            raise ShapeError(f"importance_scores should have the same shape as tensor t, got "
                             f"{tuple(scores.shape)} vs {tuple(t.shape)}")
        if default_mask is None:
            default_mask = _wrap(_xp(t).ones(t.shape, dtype=t.array.dtype), t.device)
        return t * self.compute_mask(scores.detach(), default_mask=default_mask)

    def remove(self, module):
        """Make the pruning permanent: ``<name>`` becomes the ``_orig`` Parameter (same object)
        holding the masked values; ``_orig`` and ``_mask`` are removed."""
        if self._tensor_name is None:
            raise RuntimeError(f"{_describe(module)} has to be pruned before pruning can be removed")
        name = self._tensor_name
        weight = self.apply_mask(module)
        module.__dict__.pop(name, None)
        orig = module._parameters[name + "_orig"]
        orig.data = _wrap(weight.array.copy(), weight.device)
        del module._parameters[name + "_orig"]
        del module._buffers[name + "_mask"]
        module._non_persistent.discard(name + "_mask")
        module.register_parameter(name, orig)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "mask")
        return f"{type(self).__name__}({args})"


class PruningContainer(BasePruningMethod):
    """The pruning methods applied, in order, to one tensor. Its mask is the last method's mask
    computed on the entries (or channels) the earlier ones left, so pruning compounds."""

    def __init__(self, *args):
        self._pruning_methods: tuple = ()
        if len(args) == 1 and isinstance(args[0], BasePruningMethod):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            methods = args[0] if len(args) == 1 and isinstance(args[0], Iterable) else args
            for method in methods:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        """Append ``method`` (it must act on the same tensor name)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method).__name__} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name is None and not self._pruning_methods:
            self._tensor_name = method._tensor_name  # an empty container takes its first method's tensor
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' to "
                             f"PruningContainer {self}. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """Apply the newest method to the part of ``t`` still unpruned by ``default_mask``:
        the entries where the mask is 1 (unstructured), the channels along ``dim`` not yet all
        zero (structured), or all of ``t`` (global); the result replaces that part of the mask."""
        if not self._pruning_methods:
            raise RuntimeError("PruningContainer.compute_mask: the container holds no pruning method")
        method = self._pruning_methods[-1]
        mask = default_mask.array.astype(t.array.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            _validate_pruning_dim(t, method.dim)
            dim = method.dim % t.ndim
            other = tuple(d for d in range(t.ndim) if d != dim)
            keep_channel = mask.sum(axis=other) != 0
            slc = _channel_index(t.ndim, dim, keep_channel)
        elif method.PRUNING_TYPE == "global":
            slc = tuple(slice(None) for _ in range(t.ndim))
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(_wrap(t.array[slc], t.device), default_mask=_wrap(mask[slc], t.device))
        mask[slc] = partial.array.astype(mask.dtype)
        return _wrap(mask, t.device)


class Identity(BasePruningMethod):
    """Prunes nothing (the mask is all ones): the reparametrisation alone."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _Unstructured(BasePruningMethod):
    """Prunes ``amount`` entries of the tensor, the ones :meth:`_chosen` picks (flat indices)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = int(t.numel())
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = default_mask.array.copy()
        if k:
            mask.reshape(-1)[self._chosen(t, k, _xp(t))] = 0
        return _wrap(mask, t.device)


class RandomUnstructured(_Unstructured):
    """Prunes ``amount`` entries chosen uniformly at random."""

    def _chosen(self, t, k, xp):
        return _stable_largest(xp.asarray(_random.generator().random(int(t.numel()))), k, xp)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prunes the ``amount`` entries of smallest absolute value."""

    def _chosen(self, t, k, xp):
        return _stable_smallest(xp.abs(t.array).reshape(-1), k, xp)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` whole slices along ``dim`` (channels) chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        size = int(t.shape[self.dim])
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        if k == 0:
            return default_mask
        xp = _xp(t)
        prob = xp.asarray(_random.generator().random(size))
        keep = xp.ones(size, dtype=bool)
        keep[_stable_smallest(prob, k, xp)] = False
        mask = xp.zeros(t.shape, dtype=default_mask.array.dtype)
        mask[_channel_index(t.ndim, self.dim % t.ndim, keep)] = 1
        return _wrap(mask * default_mask.array, t.device)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` slices along ``dim`` of smallest ``n``-norm."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        size = int(t.shape[self.dim])
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        norm = _compute_norm(t, self.n, self.dim)
        if k == 0:
            return default_mask
        xp = _xp(t)
        keep = xp.zeros(size, dtype=bool)
        keep[_stable_largest(norm, size - k, xp)] = True
        mask = xp.zeros(t.shape, dtype=default_mask.array.dtype)
        mask[_channel_index(t.ndim, self.dim % t.ndim, keep)] = 1
        return _wrap(mask * default_mask.array, t.device)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where a given mask is 0 (combined with any earlier mask)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ShapeError(f"custom_from_mask: the mask has shape {tuple(self.mask.shape)} but the tensor has "
                             f"shape {tuple(default_mask.shape)}; give a mask of the tensor's shape")
        xp = _xp(default_mask)
        own = self.mask.array if isinstance(self.mask, Tensor) else self.mask
        return _wrap(default_mask.array * xp.asarray(own).astype(default_mask.array.dtype), default_mask.device)

    @classmethod
    def apply(cls, module, name, mask):
        if not isinstance(mask, Tensor):
            raise TypeError(f"custom_from_mask: mask must be a Tensor, got {type(mask).__name__}")
        target = module._parameters.get(name)
        if target is None and name + "_orig" in module._parameters:
            target = module._parameters[name + "_orig"]
        if target is not None and tuple(mask.shape) != tuple(target.shape):
            raise ShapeError(f"custom_from_mask: the mask for {name} of {_describe(module)} has shape "
                             f"{tuple(mask.shape)}, expected the tensor's shape {tuple(target.shape)}")
        if target is not None and mask.device is not target.device:
            raise DeviceError(f"custom_from_mask: the mask is on {mask.device.type} but {name} of "
                              f"{_describe(module)} is on {target.device.type}; move it with "
                              f"`.to('{target.device.type}')`")
        return super().apply(module, name, mask=mask)


# --- the functions ----------------------------------------------------------------------------
def identity(module, name):
    """Reparametrise ``module.<name>`` with an all-ones mask (prunes nothing); returns the module."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` random entries of ``module.<name>``; returns the module."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` of smallest ``|importance_scores|``
    (default: the tensor itself); returns the module."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` random slices of ``module.<name>`` along ``dim``; returns the module."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` slices of ``module.<name>`` along ``dim`` of smallest ``n``-norm
    (``dim=0``: output rows of a Linear, output channels of a Conv2d); returns the module."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the ``(module, name)`` tensors in ``parameters`` together: ``pruning_method(**kwargs)``
    (an unstructured method such as :class:`L1Unstructured`) chooses among all their unpruned
    entries as one vector; each tensor then gets its share as a :class:`CustomFromMask`.
    ``importance_scores``: an optional ``{(module, name): Tensor}`` used instead of the values."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    if not parameters:
        raise ValueError("global_unstructured(): parameters is empty; give (module, name) pairs")
    for item in parameters:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Module)
                and isinstance(item[1], str)):
            raise TypeError(f"global_unstructured(): parameters must be (module, name) pairs, got {item!r}")
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    if not (isinstance(pruning_method, type) and issubclass(pruning_method, BasePruningMethod)):
        raise TypeError(f"global_unstructured(): pruning_method must be a BasePruningMethod subclass, got "
                        f"{pruning_method!r}")
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method.__name__} of type {method.PRUNING_TYPE}")
    tensors, masks, device = [], [], None
    for module, name in parameters:
        if name not in module._parameters and name + "_orig" not in module._parameters:
            params = ", ".join(n for n, p in module._parameters.items() if p is not None) or "none"
            raise ArgumentError(f"global_unstructured: {_describe(module)} has no parameter {name!r} to prune "
                                f"(its parameters: {params})")
        value = getattr(module, name)
        score = importance_scores.get((module, name), value)
        if tuple(score.shape) != tuple(value.shape):
            raise ShapeError(f"global_unstructured: importance_scores for {name} of {_describe(module)} have shape "
                             f"{tuple(score.shape)}, expected {tuple(value.shape)}")
        device = device or value.device
        if value.device is not device or score.device is not device:
            raise DeviceError(f"global_unstructured: the tensors are on {device.type} and {value.device.type}; "
                              "move the model to one device first")
        tensors.append(score.array.reshape(-1))
        m = getattr(module, name + "_mask", None)
        masks.append((m.array if m is not None else device.xp.ones(value.shape, dtype=value.array.dtype)).reshape(-1))
    xp = device.xp
    scores = _wrap(xp.concatenate(tensors), device)
    default_mask = _wrap(xp.concatenate(masks).astype(scores.array.dtype), device)
    container = PruningContainer()
    container._tensor_name = "temp"
    method._tensor_name = "temp"
    container.add_pruning_method(method)
    final = container.compute_mask(scores, default_mask)
    pointer = 0
    for module, name in parameters:
        value = getattr(module, name)
        n = int(value.numel())
        custom_from_mask(module, name, mask=_wrap(final.array[pointer:pointer + n].reshape(value.shape), device))
        pointer += n


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` where ``mask`` (same shape) is 0; returns the module."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent (see :meth:`BasePruningMethod.remove`)."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            module._refresh_hooks()
            return module
    pruned = [h._tensor_name for h in module._forward_pre_hooks.values() if isinstance(h, BasePruningMethod)]
    raise ValueError(f"Parameter '{name}' of module {_describe(module)} has to be pruned before pruning can be "
                     f"removed (pruned tensors of this module: {', '.join(pruned) or 'none'})")


def is_pruned(module) -> bool:
    """Whether ``module`` or any submodule has a pruning hook."""
    for _, sub in module.named_modules():
        for hook in sub._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False
