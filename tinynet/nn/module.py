"""Module: the base class of every layer and model.

A module owns three kinds of attributes, registered when assigned:

* **parameters** (:class:`Parameter`): learned by optimizers (``self.weight = Parameter(...)``);
* **buffers**: state that is saved but not learned, like BatchNorm's running mean
  (``self.register_buffer("running_mean", tn.zeros(c))``);
* **submodules** (``self.fc1 = Linear(...)``), which makes a model a tree.

Everything that walks the tree (``parameters()``, ``state_dict()``, ``to()``, ``train()``)
follows these registrations. ``module(x)`` calls ``forward(x)``.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as _np

from ..autograd.grad_mode import no_grad
from ..backend import Device, get_device
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from .parameter import Parameter

__all__ = ["IncompatibleKeys", "Module"]

#: The dtypes a model can be converted to with ``Module.to`` (its parameters are floating).
_MODEL_DTYPES = (_dt.float32, _dt.float64, _dt.float16)


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(strict=False)`` skipped: keys the model has but the state dict
    lacks, and keys the state dict has but the model lacks."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _fmt_count(n: int) -> str:
    return f"{n:,}"


class Module:
    """Base class of layers and models (see the module docstring).

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and
    submodules as attributes, and define ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- attribute registration -------------------------------------------------------
    def _check_init(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign parameters or submodules before Module.__init__() is called: "
                f"call super().__init__() at the start of {type(self).__name__}.__init__"
            )

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init()
            self._discard(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init()
            self._discard(name)
            self._modules[name] = value
        elif "_parameters" in d and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of {type(self).__name__}: "
                    "expected a tn.nn.Parameter or None"
                )
            self._parameters[name] = None
        elif "_modules" in d and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to submodule {name!r} of {type(self).__name__}: "
                    "expected a Module or None"
                )
            self._modules[name] = None
        elif "_buffers" in d and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} to buffer {name!r} of {type(self).__name__}: "
                    "expected a Tensor or None"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name):
        """Forget ``name`` wherever it was registered before (re-assignment changes its kind)."""
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registration tables.
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(table, {}):
                del self.__dict__[table][name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    @staticmethod
    def _check_name(kind, name):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")

    def register_parameter(self, name: str, param):
        """Register ``param`` (a Parameter, or None for an absent optional one) as ``name``."""
        self._check_init()
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter({name!r}): expected a tn.nn.Parameter or None, got "
                f"{type(param).__name__}; wrap a tensor with nn.Parameter(t)"
            )
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"register_parameter: attribute {name!r} already exists")
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """Register a non-learned tensor (saved in ``state_dict`` unless ``persistent=False``)."""
        self._check_init()
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module):
        """Register ``module`` (or None) as the submodule ``name``."""
        self._check_init()
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module or None, got {type(module).__name__}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"add_module: attribute {name!r} already exists")
        self._discard(name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str):
        """The submodule at dotted path ``target`` ("" is the module itself)."""
        mod = self
        if target == "":
            return mod
        for part in target.split("."):
            nxt = mod._modules.get(part)
            if nxt is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} (looking up {target!r})")
            mod = nxt
        return mod

    # --- walking the tree --------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is None:
                continue
            yield from mod.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """``(name, module)`` for the direct submodules."""
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """``(dotted name, Parameter)`` pairs, each shared parameter once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Every Parameter of this module (and, with ``recurse``, its descendants), once each."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (each shared parameter counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- modes -------------------------------------------------------------------------
    def train(self, mode: bool = True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Set evaluation mode (``train(False)``)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Switch gradient tracking on or off for every parameter (freezing layers)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        """Clear every parameter's ``.grad`` (to None by default, or to zeros)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.array.fill(0)
                p.grad._bump()

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- moving between devices and dtypes ------------------------------------------------
    def to(self, *args, device=None, dtype=None):
        """Move/cast parameters and buffers in place: ``m.to("cuda")``, ``m.to(tn.float64)``.

        Parameters keep their identity (only their ``data`` and ``device`` change), so an
        optimizer built before the move still updates them. Only floating parameters and
        buffers change dtype (an int64 counter stays int64). Gradients move with them.

        A model runs in float32, float64 or float16 (``m.half()``): every layer's forward and
        backward work in float16, the fused kernels computing in float32 and rounding back
        (as PyTorch does), so outputs and gradients stay float16. Any other dtype raises a
        TypeError here, before anything is changed.
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, Device)):
                device = a
            elif a is not None:
                dtype = a
        target = get_device(device) if device is not None else None
        dt = _dt.to_dtype(dtype) if dtype is not None else None
        if dt is not None and dt not in _MODEL_DTYPES:
            what = "an integer or bool dtype" if dt.kind != "f" else "a floating dtype tinynet's layers do not run in"
            raise TypeError(
                f"Module.to: {type(self).__name__} cannot be converted to {dt} ({what}); a model's parameters "
                "are floating: tn.float32 (default), tn.float64 or tn.float16. To feed integer data, convert "
                "the input instead (`x.float()`)"
            )

        def convert(t):
            if t is None:
                return
            arr, changed = t.array, False
            if target is not None and t.device is not target:
                arr = target.from_host(t.device.to_host(arr))
                changed = True
            if dt is not None and arr.dtype.kind == "f" and arr.dtype != dt:
                arr = arr.astype(dt)
                changed = True
            if changed:
                t.array = arr
                if target is not None:
                    t.device = target
                t._bump()

        for m in self.modules():
            for p in m._parameters.values():
                convert(p)
                if p is not None and p.grad is not None:
                    convert(p.grad)
            for b in m._buffers.values():
                convert(b)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        """Cast floating parameters and buffers to float16 (see :meth:`to`)."""
        return self.to(_dt.float16)

    # --- saving and loading ----------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered ``{dotted name: Tensor}`` of every parameter and persistent buffer.

        The tensors share memory with the module (detached unless ``keep_vars``); save
        them with ``tn.save`` or copy them to keep a snapshot.
        """
        out = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip(".")):
            dot = mod_prefix + ("." if mod_prefix else "")
            for name, p in mod._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def _state_targets(self):
        """``{dotted name: tensor}`` of what ``load_state_dict`` writes (params and persistent buffers)."""
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into the parameters and buffers.

        Everything is checked before anything is written: with ``strict=True`` missing and
        unexpected keys are errors; with either mode, a value of the wrong shape, a
        non-numeric value, or a value whose kind differs (floating data for an integer
        buffer, or the reverse) is an error. On error a ``RuntimeError`` lists every
        problem and the module is unchanged. Floating values are cast to the parameter's
        dtype (a float64 checkpoint loads into a float32 model). Returns
        ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict: expected a dict of name -> tensor, got {type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in targets]
        problems = []
        plan = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                arr, vdev = value.array, value.device
            elif isinstance(value, (_np.ndarray, _np.generic, int, float)) and not isinstance(value, bool):
                arr, vdev = _np.asarray(value), get_device("cpu")
            else:
                problems.append(f"  {key}: expected a tensor, got {type(value).__name__}")
                continue
            if tuple(arr.shape) != tuple(target.shape):
                problems.append(
                    f"  {key}: shape mismatch: checkpoint has {tuple(arr.shape)}, model has {tuple(target.shape)}"
                )
                continue
            tkind, vkind = target.dtype.kind, arr.dtype.kind
            same_kind = (tkind == "f") == (vkind == "f") and (tkind == "b") == (vkind == "b")
            if not same_kind:
                problems.append(f"  {key}: dtype mismatch: checkpoint has {arr.dtype}, model has {target.dtype}")
                continue
            plan.append((target, arr, vdev))
        if strict and (missing or unexpected):
            if missing:
                problems.append("  missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                problems.append("  unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was changed):\n"
                + "\n".join(problems)
                + "\nCheck that the checkpoint was saved from the same model architecture"
                + ("; pass strict=False to ignore missing/unexpected keys." if strict and (missing or unexpected) else ".")
            )
        with no_grad():
            for target, arr, vdev in plan:
                if vdev is not target.device:
                    arr = target.device.from_host(vdev.to_host(arr))
                target.array[...] = arr.astype(target.dtype, copy=False)
                target._bump()
        return IncompatibleKeys(missing, unexpected)

    # --- display --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses (its configuration)."""
        return ""

    def _repr_lines(self) -> str:
        extra = self.extra_repr()
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [f"{type(self).__name__}(" + (extra if extra else "")]
        if extra:
            lines[0] += ","  # keep the configuration and the children apart
        for name, mod in children:
            body = mod._repr_lines()
            count = mod.num_parameters()
            first, *rest = body.split("\n")
            note = f"  # {_fmt_count(count)} params" if count else ""
            if rest:
                lines.append(f"  ({name}): {first}{note}")
                lines.extend("  " + r for r in rest)
            else:
                lines.append(f"  ({name}): {first}{note}")
        lines.append(")")
        return "\n".join(lines)

    def __repr__(self):
        text = self._repr_lines()
        if self._modules or self._parameters:
            total = self.num_parameters()
            trainable = self.num_parameters(trainable_only=True)
            text += f"\nTotal params: {_fmt_count(total)}"
            if trainable != total:
                text += f" (trainable: {_fmt_count(trainable)})"
        return text
