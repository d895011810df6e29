"""Containers: modules that hold other modules.

* :class:`Sequential` runs its modules one after another (``model(x)``);
* :class:`ModuleList` is a list whose modules are registered (so their parameters are
  found), for models that loop over layers themselves;
* :class:`ModuleDict` is the same as a dict keyed by name;
* :class:`ParameterList` and :class:`ParameterDict` do the same for Parameters (keys in
  ``state_dict`` are the list positions ``"0", "1", ...`` or the dict keys, as PyTorch).
"""
from __future__ import annotations

from collections import OrderedDict

from ..tensor.tensor import Tensor
from .module import Module
from .parameter import Parameter


__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]


def _index(idx: int, n: int, what: str) -> int:
    if not isinstance(idx, int):
        raise TypeError(f"{what} indices must be integers or slices, not {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{what} index {idx} is out of range for {n} module(s)")
    return idx % n


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``.

    Also accepts one ``OrderedDict`` of ``name -> module``. Supports ``len``, iteration,
    ``seq[i]`` (a slice gives a new Sequential sharing the modules), ``append``,
    ``extend`` and ``insert``.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is {type(m).__name__}, not a Module")
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: can only hold Modules, got {type(module).__name__}")
        key = list(self._modules.keys())[_index(idx, len(self), "Sequential")]
        self._modules[key] = module  # replaced in place, keeping its position

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        doomed = keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self), "Sequential")]]
        for k in doomed:
            del self._modules[k]
        # Renumber so indices stay 0..n-1 (names that were not numbers are kept).
        items = list(self._modules.items())
        self._modules.clear()
        for i, (k, m) in enumerate(items):
            self._modules[str(i) if k.isdigit() else k] = m

    def append(self, module):
        """Add ``module`` at the end."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module):
        """Insert ``module`` before position ``index``."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got {type(module).__name__}")
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} module(s)")
        mods.insert(index % (n + 1) if index < 0 else index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered with the parent.

    Indexing, slicing (gives a new ModuleList), ``len``, iteration, ``append``,
    ``extend``, ``insert`` and item assignment work as on a list. It has no ``forward``:
    the model decides how to call the modules.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, m, what):
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList.{what}: expected a Module, got {type(m).__name__}")

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        self._check(module, "__setitem__")
        self._modules[str(_index(idx, len(self), "ModuleList"))] = module

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(idx, len(self), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def append(self, module):
        self._check(module, "append")
        self._modules[str(len(self))] = module
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module):
        self._check(module, "insert")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call its modules")


class ModuleDict(Module):
    """A dict of ``name -> module`` whose parameters are registered with the parent."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.keys())

    def __contains__(self, key):
        return key in self._modules

    def __getitem__(self, key):
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: {list(self._modules)}") from None

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        m = self[key]
        del self._modules[key]
        return m

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self.add_module(k, m)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): look up its modules by name and call them")


def _as_parameter(value, where):
    """A Parameter as it is; another Tensor wrapped in a Parameter (sharing its data), as PyTorch."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{where}: expected a Parameter or Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of Parameters registered with the parent (``state_dict`` keys "0", "1", ...).

    Tensors that are not Parameters are wrapped in one (sharing their data), as PyTorch.
    Indexing, slicing (a new ParameterList sharing the Parameters), ``len``, iteration,
    ``append``, ``extend`` and item assignment work as on a list.
    """

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx, param):
        self._parameters[str(_index(idx, len(self), "ParameterList"))] = _as_parameter(param, "ParameterList.__setitem__")

    def append(self, value):
        self._parameters[str(len(self))] = _as_parameter(value, "ParameterList.append")
        return self

    def extend(self, values):
        if isinstance(values, Tensor):
            raise TypeError("ParameterList.extend: expected an iterable of Parameters, got a single Tensor; use append")
        for v in values:
            self.append(v)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward(): iterate over it and use its Parameters")

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for i, p in enumerate(self)) if len(self) else ""


class ParameterDict(Module):
    """A dict of ``name -> Parameter`` registered with the parent (``state_dict`` keys = names).

    Tensors are wrapped in Parameters as PyTorch. Supports ``d[k]``, ``d[k] = p``, ``del``,
    ``in``, ``len``, iteration over keys, ``keys``, ``values``, ``items``, ``get``, ``pop``,
    ``update``, ``clear`` and ``copy``.
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.keys())

    def __contains__(self, key):
        return key in self._parameters

    def __getitem__(self, key):
        try:
            return self._parameters[key]
        except KeyError:
            raise KeyError(f"ParameterDict has no parameter {key!r}; keys: {list(self._parameters)}") from None

    def __setitem__(self, key, value):
        self.register_parameter(key, _as_parameter(value, f"ParameterDict[{key!r}]"))

    def __delitem__(self, key):
        self[key]
        del self._parameters[key]

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def pop(self, key):
        p = self[key]
        del self._parameters[key]
        return p

    def clear(self):
        self._parameters.clear()

    def copy(self):
        return ParameterDict(OrderedDict(self._parameters))

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict has no forward(): look up its Parameters by name")

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for k, p in self.items())
