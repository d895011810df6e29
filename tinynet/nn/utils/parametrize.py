"""Parametrizations (PyTorch's ``torch.nn.utils.parametrize``): a module's tensor computed from
other tensors on every access.

``register_parametrization(module, "weight", P())`` moves the parameter ``weight`` to
``module.parametrizations.weight.original`` and makes ``module.weight`` a property whose value
is ``P()(original)``: an optimizer then learns ``original`` while the module always sees the
constrained weight (orthogonal, unit-norm, ...), with gradients flowing through ``P``.
Several parametrizations on one tensor chain (``P2(P1(original))``). A parametrization may
define ``right_inverse(value)``, used to set ``original`` from a value (at registration and
on ``module.weight = value``); when it returns a tuple the originals are ``original0``,
``original1``, ... and ``forward`` takes them all (this is how ``weight_norm`` keeps ``g`` and
``v``). Inside ``with parametrize.cached():`` each parametrized tensor is computed once.

The module's class is swapped for a generated subclass (``ParametrizedLinear``) that carries
the properties, as PyTorch does; removing the last parametrization restores the class.
The state dict holds ``parametrizations.weight.original`` (PyTorch's keys).
"""
from __future__ import annotations

import contextlib
import copy

from ...autograd.grad_mode import no_grad
from ...backend.errors import ShapeError
from ...tensor.tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_enabled = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, on first access, and reused
    (for a model that reads the same parametrized weight several times in one forward, e.g. an
    RNN's recurrent weight). The cache is cleared on exit (nested contexts share it)."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _owned(t):
    """A history-free copy of ``t`` whose storage is a real (writable) array, also for 0-d results
    (a 0-d reduction may hold a NumPy scalar)."""
    xp = t.device.xp
    return Tensor._make(xp.array(t.array, copy=True), t.device)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else None


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, in order, plus its unconstrained ``original`` (or
    ``original0``, ``original1``, ... when the first parametrization's ``right_inverse`` returns
    several tensors). ``forward()`` gives the parametrized value."""

    def __init__(self, modules, original, unsafe: bool = False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            new = original
            for m in reversed(list(modules)):
                if hasattr(m, "right_inverse"):
                    try:
                        new = m.right_inverse(new)
                    except NotImplementedError:  # as PyTorch: no right inverse, keep the value
                        continue
                    if _as_tuple(new) is not None and m is not first:
                        raise ValueError("register_parametrization: only the first parametrization's right_inverse "
                                         "may return several tensors")
        many = _as_tuple(new)
        self.is_tensor = many is None
        self.ntensors = 1 if self.is_tensor else len(many)
        if self.is_tensor:
            if not isinstance(new, Tensor):
                raise TypeError(f"register_parametrization: right_inverse must return a Tensor or a tuple of Tensors, "
                                f"got {type(new).__name__}")
            if not unsafe and (tuple(new.shape) != tuple(original.shape) or new.dtype != original.dtype):
                raise ShapeError(
                    f"register_parametrization: right_inverse changed the tensor from {tuple(original.shape)} "
                    f"{original.dtype} to {tuple(new.shape)} {new.dtype}; pass unsafe=True if this is intended")
            self._set_original("original", original, new)
        else:
            for i, t in enumerate(many):
                if not isinstance(t, Tensor):
                    raise TypeError(f"register_parametrization: right_inverse returned a {type(t).__name__} at "
                                    f"position {i}; expected Tensors")
                self.register_parameter(f"original{i}", Parameter(_owned(t), original.requires_grad))
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise TypeError(f"register_parametrization: a parametrization must return a Tensor, got "
                                f"{type(z).__name__}")
            if tuple(z.shape) != tuple(original.shape) or z.dtype != original.dtype:
                raise ShapeError(
                    f"register_parametrization: the parametrization changed the tensor from {tuple(original.shape)} "
                    f"{original.dtype} to {tuple(z.shape)} {z.dtype}; a parametrization must keep shape and "
                    "dtype unless registered with unsafe=True")

    def _set_original(self, name, original, new):
        # As PyTorch: the original Parameter object is kept (an optimizer holding it still works)
        # and gets the right-inverse's value.
        if isinstance(original, Parameter):
            with no_grad():
                if tuple(new.shape) == tuple(original.shape) and new.dtype == original.dtype:
                    if new is not original:
                        original.array[...] = new.array
                        original._bump()
                    self.register_parameter(name, original)
                    return
            self.register_parameter(name, Parameter(_owned(new), original.requires_grad))
        else:
            self.register_buffer(name, new if new is original else _owned(new))

    def right_inverse(self, value):
        """Set the original(s) from ``value`` (``module.weight = value``), through each
        parametrization's ``right_inverse`` in reverse order, in place, without history."""
        with no_grad():
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise TypeError(f"right_inverse must return a Tensor, got {type(value).__name__}")
                targets, values = [self.original], [value]
            else:
                values = _as_tuple(value)
                if values is None or len(values) != self.ntensors:
                    raise ValueError(f"right_inverse must return a sequence of {self.ntensors} tensors")
                targets = [getattr(self, f"original{i}") for i in range(self.ntensors)]
            for t, v in zip(targets, values):
                if tuple(v.shape) != tuple(t.shape):
                    raise ShapeError(f"setting a parametrized tensor: right_inverse gave shape {tuple(v.shape)}, "
                                     f"the original has {tuple(t.shape)}")
                arr = v.array if v.device is t.device else t.device.from_host(v.device.to_host(v.array))
                t.array[...] = arr.astype(t.dtype, copy=False)
                t._bump()

    def forward(self):
        mods = list(self)
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in mods[1:]:
            x = m(x)
        return x


def _make_property(name):
    def getter(self):
        if _cache_enabled:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = self.parametrizations[name]()
            return _cache[key]
        return self.parametrizations[name]()

    def setter(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(getter, setter)


def _inject_new_class(module):
    cls = module.__class__

    def getstate(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict().")

    def default_deepcopy(self, memo):
        # copy.deepcopy still works (as PyTorch): a new instance of the generated class with a
        # deep copy of the attributes (parameters, parametrizations, hooks)
        obj = memo.get(id(self))
        if obj is not None:
            return obj
        replica = self.__new__(self.__class__)
        memo[id(self)] = replica
        replica.__dict__ = copy.deepcopy(self.__dict__, memo)
        return replica

    attrs = {"__getstate__": getstate, "_parametrized_base": cls}
    if not hasattr(cls, "__deepcopy__"):
        attrs["__deepcopy__"] = default_deepcopy
    new_cls = type(f"Parametrized{cls.__name__}", (cls,), attrs)
    module.__class__ = new_cls


def register_parametrization(module, tensor_name: str, parametrization, *, unsafe: bool = False):
    """Make ``module.<tensor_name>`` the value of ``parametrization`` (a Module) applied to the
    original tensor (see the module docstring). Registering a second parametrization on the same
    tensor chains it after the first. ``unsafe=True`` skips the checks that the
    parametrization keeps shape and dtype. Returns ``module``."""
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: expected a Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an nn.Module (with forward), got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor) or tuple(x.shape) != tuple(y.shape) or x.dtype != y.dtype:
                raise ShapeError(
                    f"register_parametrization: the new parametrization on {tensor_name!r} changes "
                    f"{tuple(y.shape)} {y.dtype} to "
                    f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}; pass unsafe=True if intended")
            if hasattr(parametrization, "right_inverse"):
                z = parametrization.right_inverse(x)
                if not isinstance(z, Tensor) or tuple(z.shape) != tuple(y.shape):
                    raise ShapeError(f"register_parametrization: the right_inverse of the new parametrization on "
                                     f"{tensor_name!r} must return a tensor of shape {tuple(y.shape)}")
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    if tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"register_parametrization: {type(module).__name__}.{tensor_name} is None")
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        module.parametrizations[tensor_name] = plist
        setattr(type(module), tensor_name, _make_property(tensor_name))
        return module
    raise ValueError(f"register_parametrization: module '{type(module).__name__}' has no parameter or buffer with "
                     f"name '{tensor_name}'")


def is_parametrized(module, tensor_name=None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, or on any tensor)."""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    if tensor_name is None:
        return len(plists) > 0
    return tensor_name in plists


def remove_parametrizations(module, tensor_name: str, leave_parametrized: bool = True):
    """Remove the parametrizations on ``module.<tensor_name>``: it becomes a plain Parameter
    again, holding the parametrized value (``leave_parametrized=True``) or the original's.
    The original Parameter object is kept when shapes allow, so an optimizer holding it still
    updates it. Restores the module's class when no parametrization is left."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            with no_grad():
                if tuple(t.shape) == tuple(original.shape) and t.dtype == original.dtype:
                    original.array[...] = t.array
                    original._bump()
                elif isinstance(original, Parameter):
                    original = Parameter(_owned(t), original.requires_grad)
                else:
                    original = _owned(t)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.")
        with no_grad():
            t = getattr(module, tensor_name)
        requires = plist.original0.requires_grad
        original = Parameter(_owned(t), requires) if requires else _owned(t)
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module)._parametrized_base
    return module


def type_before_parametrizations(module) -> type:
    """The module's class before parametrizations were registered (its class if none were)."""
    return type(module)._parametrized_base if is_parametrized(module) else type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Copy the parametrizations (and their originals' values) of ``from_module`` to ``to_module``,
    for ``tensor_name`` or for every parametrized tensor. Returns ``to_module``."""
    if not is_parametrized(from_module):
        raise ValueError(f"transfer_parametrizations_and_params: {type(from_module).__name__} has no parametrizations")
    names = list(from_module.parametrizations.keys()) if tensor_name is None else [tensor_name]
    for name in names:
        src = from_module.parametrizations[name]
        if not is_parametrized(to_module, name):
            for i, p in enumerate(src):
                register_parametrization(to_module, name, p, unsafe=src.unsafe)
        dst = to_module.parametrizations[name]
        with no_grad():
            keys = ["original"] if src.is_tensor else [f"original{i}" for i in range(src.ntensors)]
            for k in keys:
                a, b = getattr(src, k), getattr(dst, k)
                if tuple(a.shape) != tuple(b.shape):
                    raise ShapeError(f"transfer_parametrizations_and_params: {name}.{k} has shape {tuple(a.shape)} "
                                     f"in the source and {tuple(b.shape)} in the target")
                b.array[...] = b.device.from_host(a.device.to_host(a.array)).astype(b.dtype, copy=False)
                b._bump()
    return to_module
