"""Module: the base class of every layer and model.

A module owns three kinds of attributes, registered when assigned:

* **parameters** (:class:`Parameter`): learned by optimizers (``self.weight = Parameter(...)``);
* **buffers**: state that is saved but not learned, like BatchNorm's running mean
  (``self.register_buffer("running_mean", tn.zeros(c))``);
* **submodules** (``self.fc1 = Linear(...)``), which makes a model a tree.

Everything that walks the tree (``parameters()``, ``state_dict()``, ``to()``, ``train()``)
follows these registrations. ``module(x)`` calls ``forward(x)``, surrounded by the
module's hooks when it has any (PyTorch's): ``register_forward_pre_hook``,
``register_forward_hook``, ``register_full_backward_pre_hook`` and
``register_full_backward_hook``, each returning a :class:`RemovableHandle`. Hooks are
not part of ``state_dict`` (they are code, not state); ``copy.deepcopy`` copies them, as
PyTorch does.

Saving and loading follow PyTorch too: ``state_dict(destination, prefix, keep_vars)`` (keys in
PyTorch's order, ``<prefix>_extra_state`` for a module defining ``get_extra_state``), with
``register_state_dict_pre_hook``/``register_state_dict_post_hook``, and
``load_state_dict(strict, assign)`` with ``register_load_state_dict_pre_hook``/``_post_hook``.
Also PyTorch's: ``get_parameter``, ``get_buffer``, ``get_submodule``/``set_submodule``,
``to_empty``, ``type`` and ``share_memory`` (cpu). ``Module.compile`` checks its arguments as
PyTorch does and changes nothing: tinynet runs eagerly and has no graph compiler (like
``tn.compile``, it exists so that scripts calling it run, with no speed-up).

Full backward hooks are built on two small graph nodes of this module (:class:`BackwardHookPack`
and :class:`BackwardHookUnpack`, or :class:`BackwardHookIdentity` for one tensor): the
module's tensor outputs pass through one node whose backward sees every output gradient
at once (``grad_output``, given to the backward pre-hooks), and its positional tensor
inputs through another whose backward sees every input gradient at once (``grad_input``,
given with ``grad_output`` to the full backward hooks, which may return a replacement).
"""
from __future__ import annotations

import mmap
import warnings
import weakref
from collections import OrderedDict, namedtuple

import numpy as _np

from .. import functional as F
from ..autograd.grad_mode import STATE, no_grad
from ..autograd.hooks import RemovableHandle as _HookHandle
from ..autograd.op import Op
from ..backend import Device, get_device
from ..backend.errors import DTypeError, DeviceError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from .._compile import check_compile_args
from .parameter import Parameter

__all__ = ["IncompatibleKeys", "Module", "RemovableHandle"]

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


_HOOK_TABLES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


class RemovableHandle(_HookHandle):
    """What a ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook (also usable
    as a context manager, removing it on exit; :class:`tinynet.autograd.hooks.RemovableHandle`
    with the module's tables). Removing twice is harmless."""

    def __init__(self, module, tables):
        super().__init__({})
        self._module = weakref.ref(module)
        self._tables = tables

    def remove(self):
        m = self._module()
        if m is None:
            return
        for name in self._tables:
            getattr(m, name).pop(self.id, None)
        m._forward_hooks_with_kwargs.discard(self.id)
        m._forward_pre_hooks_with_kwargs.discard(self.id)
        m._forward_hooks_always_called.discard(self.id)
        m._refresh_hooks()


# --- full backward hooks: graph nodes whose backward calls the module's hooks ------------------
class BackwardHookIdentity(Op):
    """Identity on one tensor; its backward hands the gradient to ``self.on_grads`` (a callback
    taking and returning a list of gradient Tensors) and passes on what it returns."""

    name = "backward_hook"
    is_view = True
    saves_values = False

    def forward(self, x):
        return x

    def backward(self, g):
        return self.on_grads([g])[0]


class BackwardHookPack(Op):
    """Several tensors (one dtype) flattened and joined into one 1-D tensor, so that one backward
    sees all their gradients at once: the gradients are split back, handed to ``self.on_grads``
    and what it returns flows on to the tensors."""

    name = "backward_hook_pack"
    saves_values = False

    def forward(self, *arrays):
        return self.xp.concatenate([a.reshape(-1) for a in arrays])

    def backward(self, g):
        grads, o = [], 0
        for i, shape in enumerate(self.shapes):
            n = int(_np.prod(shape, dtype=_np.int64))
            # a tensor whose gradient never arrived (unused downstream) gets None, as PyTorch
            grads.append(g[o:o + n].reshape(shape) if i in self.arrived else None)
            o += n
        self.arrived.clear()
        return tuple(self.on_grads(grads))


class BackwardHookUnpack(Op):
    """The slice ``[offset, offset + size)`` of a packed 1-D tensor, reshaped to ``shape``."""

    name = "backward_hook_unpack"
    is_view = True
    saves_values = False

    def forward(self, packed):
        n = int(_np.prod(self.shape, dtype=_np.int64))
        return packed[self.offset:self.offset + n].reshape(self.shape)

    def backward(self, g):
        self.arrived.add(self.index)
        n = int(_np.prod(self.shape, dtype=_np.int64))
        return F.pad(g.reshape(-1), (self.offset, self.total - self.offset - n))


def _zeros_like(t):
    return Tensor._make(t.device.xp.zeros(t.shape, dtype=t.dtype), t.device)


def _route_through(tensors, on_grads, label):
    """Pass ``tensors`` (each requiring grad) through one hook node; return the new tensors."""
    if len(tensors) == 1:
        return [BackwardHookIdentity.apply(tensors[0], on_grads=on_grads)]
    first = tensors[0]
    for t in tensors:
        if t.dtype != first.dtype or t.device is not first.device:
            raise DTypeError(
                f"{label}: full backward hooks need the module's tensors that require grad to share one dtype "
                f"and device, got {', '.join(f'{t.dtype} on {t.device.type}' for t in tensors)}"
            )
    shapes = [tuple(t.shape) for t in tensors]
    arrived = set()  # indices of the tensors whose gradient reached their unpack node
    packed = BackwardHookPack.apply(*tensors, on_grads=on_grads, shapes=shapes, arrived=arrived)
    total, out, o = int(packed.shape[0]), [], 0
    for i, shape in enumerate(shapes):
        out.append(BackwardHookUnpack.apply(packed, offset=o, shape=shape, total=total, arrived=arrived, index=i))
        o += int(_np.prod(shape, dtype=_np.int64))
    return out


class _BackwardHookCall:
    """One forward call's full backward hooks (PyTorch's ``BackwardHook``)."""

    def __init__(self, module, full_hooks, pre_hooks):
        self.module = module
        self.full_hooks = full_hooks
        self.pre_hooks = pre_hooks
        self.n_args = 0
        self.input_pos = []
        self.grad_output = None
        self.n_outputs = 0

    def _label(self):
        return type(self.module).__name__

    def setup_inputs(self, args):
        self.n_args = len(args)
        self.tensor_args = [a if isinstance(a, Tensor) else None for a in args]
        self.input_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad]
        if not self.input_pos or not self.full_hooks or not STATE.enabled:
            return args
        routed = _route_through([args[i] for i in self.input_pos], self._on_input_grads, self._label())
        args = list(args)
        for i, t in zip(self.input_pos, routed):
            args[i] = t
        return tuple(args)

    def setup_outputs(self, result):
        # As PyTorch: the output is one Tensor or a tuple/list whose top-level Tensor entries
        # are hooked (grad_output has one entry per element, None for non-tensors).
        single = isinstance(result, Tensor)
        if not single and not isinstance(result, (tuple, list)):
            return result
        outs = [result] if single else list(result)
        self.n_outputs = len(outs)
        self.output_pos = [i for i, t in enumerate(outs) if isinstance(t, Tensor) and t._requires_grad]
        if not self.output_pos or not STATE.enabled:
            return result
        routed = _route_through([outs[i] for i in self.output_pos], self._on_output_grads, self._label())
        for i, t in zip(self.output_pos, routed):
            outs[i] = t
        if single:
            return outs[0]
        return type(result)(*outs) if hasattr(result, "_fields") else type(result)(outs)

    def _check(self, new, old, what, hook):
        bad = not isinstance(new, (tuple, list)) or len(new) != len(old)
        if not bad and not all(g is None or isinstance(g, Tensor) for g in new):
            raise TypeError(
                f"{self._label()}: backward hook {getattr(hook, '__name__', hook)!r} returned a tuple holding "
                f"{', '.join(sorted({type(g).__name__ for g in new if g is not None and not isinstance(g, Tensor)}))}; "
                f"its entries must be gradient Tensors or None"
            )
        if bad:
            raise RuntimeError(
                f"{self._label()}: backward hook {getattr(hook, '__name__', hook)!r} returned {type(new).__name__}"
                f"{'' if not isinstance(new, (tuple, list)) else f' of length {len(new)}'}; it must return None "
                f"or a tuple of {len(old)} {what} gradients (None where there is none)"
            )
        return tuple(new)

    def _on_output_grads(self, grads):
        grad_output = [None] * self.n_outputs
        for i, g in zip(self.output_pos, grads):
            grad_output[i] = g
        grad_output = tuple(grad_output)
        for hook in self.pre_hooks:
            res = hook(self.module, grad_output)
            if res is not None:
                grad_output = self._check(res, grad_output, "output", hook)
        self.grad_output = grad_output
        if not self.input_pos or not self.full_hooks:
            grad_input = (None,) * self.n_args
            for hook in self.full_hooks:
                if hook(self.module, grad_input, grad_output) is not None:
                    raise RuntimeError(
                        f"{self._label()}: a full backward hook returned a grad_input although no input of the "
                        "module requires grad (there is nothing to replace); return None"
                    )
        return [grad_output[i] for i in self.output_pos]

    def _on_input_grads(self, grads):
        # As PyTorch: a tensor argument that needs no gradient gets zeros (once some input
        # requires grad), a non-tensor argument None.
        grad_input = [None if a is None else _zeros_like(a) for a in self.tensor_args]
        for i, g in zip(self.input_pos, grads):
            grad_input[i] = g
        grad_input = tuple(grad_input)
        grad_output = self.grad_output if self.grad_output is not None else (None,) * self.n_outputs
        for hook in self.full_hooks:
            res = hook(self.module, grad_input, grad_output)
            if res is not None:
                grad_input = self._check(res, grad_input, "input", hook)
        return [grad_input[i] for i in self.input_pos]


def _in_shared_memory(arr) -> bool:
    """Whether ``arr``'s memory is an mmap (``Module.share_memory`` put it there)."""
    while arr is not None:
        if isinstance(arr, mmap.mmap):
            return True
        arr = getattr(arr, "base", None)
    return False


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
        for name in _HOOK_TABLES:
            object.__setattr__(self, name, OrderedDict())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_hooks_always_called", set())
        object.__setattr__(self, "_has_hooks", False)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_has_hooks"):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # --- hooks (PyTorch's semantics) ------------------------------------------------------
    def _refresh_hooks(self):
        object.__setattr__(self, "_has_hooks", any(getattr(self, t) for t in _HOOK_TABLES))

    def _add_hook(self, table, hook, prepend):
        self._check_init()
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.register hook: expected a callable, got {type(hook).__name__}")
        handle = RemovableHandle(self, (table,))
        hooks = getattr(self, table)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        self._refresh_hooks()
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``) runs before
        ``forward``; it may return replacement ``args`` (a tuple, or one value) or, with
        ``with_kwargs``, a tuple ``(args, kwargs)``. ``prepend`` runs it before the hooks already
        registered. Returns a :class:`RemovableHandle`."""
        handle = self._add_hook("_forward_pre_hooks", hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after
        ``forward`` and may return a replacement output. ``always_call`` runs it even when
        ``forward`` (or an earlier hook) raised, before the exception propagates."""
        handle = self._add_hook("_forward_hooks", hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are known,
        before they flow into the module; it may return a replacement ``grad_output`` tuple."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients of the module's
        positional tensor inputs are computed: ``grad_input`` has one entry per positional
        argument (None for non-tensors and tensors that need no gradient), ``grad_output`` one
        per output tensor. It may return a replacement ``grad_input`` tuple. When no input
        requires grad, it runs with an all-None ``grad_input`` once the output gradients are
        known. Hooks fire only when the forward ran with gradient recording on."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        """PyTorch's deprecated non-full backward hook: here the same as
        :meth:`register_full_backward_hook` (whose semantics PyTorch recommends)."""
        return self.register_full_backward_hook(hook)

    def _call_with_hooks(self, args, kwargs):
        bw = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw = _BackwardHookCall(self, list(self._backward_hooks.values()), list(self._backward_pre_hooks.values()))
        called = set()
        try:
            for hid, hook in list(self._forward_pre_hooks.items()):
                if hid in self._forward_pre_hooks_with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if not (isinstance(res, tuple) and len(res) == 2):
                            raise RuntimeError(
                                f"{type(self).__name__}: a forward pre-hook registered with with_kwargs=True must "
                                f"return None or a tuple (new_args, new_kwargs), got {type(res).__name__}"
                            )
                        args, kwargs = res
                        args = args if isinstance(args, tuple) else (args,)
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            if bw is not None:
                args = bw.setup_inputs(args)
            result = self.forward(*args, **kwargs)
            for hid, hook in list(self._forward_hooks.items()):
                called.add(hid)
                if hid in self._forward_hooks_with_kwargs:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res
        except BaseException:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called and hid not in called:
                    try:
                        if hid in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:  # the original error is the one to report
                        pass
            raise
        if bw is not None:
            result = bw.setup_outputs(result)
        return result

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
    def _state_hook_tables(self):
        d = self.__dict__
        for name in ("_state_dict_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks",
                     "_load_state_dict_post_hooks"):
            if name not in d:
                object.__setattr__(self, name, OrderedDict())

    def _add_state_hook(self, table, hook):
        self._check_init()
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.{table.strip('_')}: expected a callable, got {type(hook).__name__}")
        self._state_hook_tables()
        handle = RemovableHandle(self, (table,))
        getattr(self, table)[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module's
        tensors (e.g. to prepare them). Returns a :class:`RemovableHandle`."""
        return self._add_state_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module's (and its
        children's) entries are in ``state_dict``; it may change ``state_dict`` in place and must
        return None (as PyTorch). Returns a :class:`RemovableHandle`."""
        return self._add_state_hook("_state_dict_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs before ``load_state_dict`` reads this module's entries; it may rename or
        convert entries of ``state_dict`` in place (a copy of the caller's dict). Returns a
        :class:`RemovableHandle`."""
        return self._add_state_hook("_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict`` wrote the values; it may
        edit ``incompatible_keys.missing_keys`` / ``unexpected_keys`` in place (what it clears is no
        longer an error with ``strict=True``) and must return None. Returns a :class:`RemovableHandle`."""
        return self._add_state_hook("_load_state_dict_post_hooks", hook)

    def _hooks_of(self, table):
        return list(self.__dict__.get(table, {}).values())

    def get_extra_state(self):
        """Extra (non-tensor) state to save in ``state_dict`` under ``<prefix>_extra_state``: override
        it together with :meth:`set_extra_state` (as PyTorch); the base class has none."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. Please file an issue "
            "at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml to report this bug.")

    def set_extra_state(self, state):
        """Restore what :meth:`get_extra_state` returned (called by ``load_state_dict``)."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. Please file an issue "
            "at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml to report this bug.")

    def _has_extra_state(self):
        return type(self).get_extra_state is not Module.get_extra_state

    def _state_entries(self, prefix: str = ""):
        """``(key, module, table, name)`` of every state entry, in ``state_dict`` order: this module's
        parameters, persistent buffers and extra state, then each child's (shared submodules and
        tied tensors under every name they have, as PyTorch)."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, self, "_parameters", name
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield prefix + name, self, "_buffers", name
        if self._has_extra_state():
            yield prefix + "_extra_state", self, None, "_extra_state"
        for name, mod in self._modules.items():
            if mod is not None:
                yield from mod._state_entries(prefix + name + ".")

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered ``{dotted name: Tensor}`` of every parameter and persistent buffer (and
        ``<prefix>_extra_state`` for a module defining :meth:`get_extra_state`), PyTorch's keys
        and order. ``prefix`` is prepended to every key as given (pass ``"model."``); entries
        are added to ``destination`` when given (and it is returned). The tensors share memory
        with the module (detached unless ``keep_vars``); save them with ``tn.save`` or copy them
        to keep a snapshot. State-dict pre/post hooks run on each module (see
        ``register_state_dict_pre_hook``). As PyTorch, ``destination, prefix, keep_vars`` may also
        be passed positionally.
        """
        if args:
            warnings.warn("Positional args are being deprecated, use kwargs instead. Refer to "
                          "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module.state_dict"
                          " for details.", FutureWarning, stacklevel=2)
            if len(args) > 3:
                raise TypeError(f"state_dict() takes at most 3 positional arguments, got {len(args)}")
            names = ("destination", "prefix", "keep_vars")
            given = dict(zip(names, args))
            destination = given.get("destination", destination)
            prefix = given.get("prefix", prefix)
            keep_vars = given.get("keep_vars", keep_vars)
        out = OrderedDict() if destination is None else destination
        self._state_dict_into(out, prefix, keep_vars)
        return out

    def _state_dict_into(self, out, prefix, keep_vars):
        for hook in self._hooks_of("_state_dict_pre_hooks"):
            hook(self, prefix, keep_vars)
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        if self._has_extra_state():
            out[prefix + "_extra_state"] = self.get_extra_state()
        for name, mod in self._modules.items():
            if mod is not None:
                mod._state_dict_into(out, prefix + name + ".", keep_vars)
        for hook in self._hooks_of("_state_dict_hooks"):
            if hook(self, out, prefix, {}) is not None:
                raise RuntimeError(f"{type(self).__name__}: a state_dict post-hook must return None (change the "
                                   "state_dict in place)")

    def _state_targets(self):
        """``{dotted name: tensor}`` of what ``load_state_dict`` writes (params and persistent buffers)."""
        return {k: getattr(m, t)[n] for k, m, t, n in self._state_entries() if t is not None}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` into the parameters and buffers.

        Everything is checked before anything is written: with ``strict=True`` missing and
        unexpected keys are errors; with either mode, a value of the wrong shape, a
        non-numeric value, or a value whose kind differs (floating data for an integer
        buffer, or the reverse) is an error. On error a ``RuntimeError`` lists every
        problem and the module is unchanged. Floating values are cast to the parameter's
        dtype (a float64 checkpoint loads into a float32 model). Returns
        ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        ``assign=True`` (PyTorch's): the state dict's tensors themselves become the parameters
        (wrapped as Parameters keeping each old one's ``requires_grad``) and buffers, keeping
        their dtype and device, instead of being copied into the existing memory (an optimizer
        built before then holds the old Parameters). ``_extra_state`` entries go to
        :meth:`set_extra_state`. Load-state-dict pre-hooks run first on each module (on a copy of
        ``state_dict``); post-hooks run after the values are written and may clear entries of
        the returned keys. When a post-hook is registered, a strict key error is raised after
        writing (the hooks must see the loaded module, as in PyTorch): the matching values are
        then loaded.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict: expected a dict of name -> tensor, got {type(state_dict).__name__}")
        if not isinstance(strict, bool) or not isinstance(assign, bool):
            raise TypeError("load_state_dict: strict and assign must be bools")
        modules = list(self.named_modules(remove_duplicate=False))
        if any(m._hooks_of("_load_state_dict_pre_hooks") for _, m in modules):
            state_dict = OrderedDict(state_dict)
            for mod_prefix, mod in modules:
                pre = mod_prefix + "." if mod_prefix else ""
                for hook in mod._hooks_of("_load_state_dict_pre_hooks"):
                    hook(mod, state_dict, pre, {}, strict, [], [], [])
        entries = list(self._state_entries())
        keys = {k for k, _, _, _ in entries}
        missing = [k for k, _, _, _ in entries if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in keys]
        problems = []
        plan = []
        for key, mod, table, name in entries:
            if key not in state_dict:
                continue
            value = state_dict[key]
            if table is None:  # extra state: any object, given to set_extra_state
                plan.append((mod, None, name, value, None))
                continue
            target = getattr(mod, table)[name]
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
            plan.append((mod, table, name, value, (arr, vdev)))
        post_hooks = any(m._hooks_of("_load_state_dict_post_hooks") for _, m in modules)

        def key_problems():
            out = []
            if strict and (missing or unexpected):
                if missing:
                    out.append("  missing keys: " + ", ".join(repr(k) for k in missing))
                if unexpected:
                    out.append("  unexpected keys: " + ", ".join(repr(k) for k in unexpected))
                quantized = [k for k in unexpected if k.endswith(".qweight") or k == "qweight"]
                if quantized:
                    layer = quantized[0].rsplit(".", 1)[0] if "." in quantized[0] else "(top level)"
                    out.append(f"  this is an int8-quantized state dict (layer {layer!r} holds 'qweight'), and "
                               f"{type(self).__name__} is a float model: rebuild the quantized model with "
                               "tinynet.quantization.load_quantized(checkpoint, model) instead")
            return out

        def fail(items, changed):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__} "
                + ("(the matching values were loaded; the load-state-dict post-hooks left these):\n" if changed
                   else "(nothing was changed):\n")
                + "\n".join(items)
                + "\nCheck that the checkpoint was saved from the same model architecture"
                + ("; pass strict=False to ignore missing/unexpected keys." if strict and (missing or unexpected) else ".")
            )

        if problems or (not post_hooks and key_problems()):
            fail(problems + ([] if post_hooks else key_problems()), False)
        with no_grad():
            for mod, table, name, value, src in plan:
                if table is None:
                    mod.set_extra_state(value)
                    continue
                target = getattr(mod, table)[name]
                arr, vdev = src
                if assign:
                    new = value if isinstance(value, Tensor) else Tensor._make(arr, vdev)
                    if table == "_parameters":
                        new = Parameter(new.detach(), target.requires_grad)
                    mod.__dict__[table][name] = new
                    continue
                if vdev is not target.device:
                    arr = target.device.from_host(vdev.to_host(arr))
                target.array[...] = arr.astype(target.dtype, copy=False)
                target._bump()
        result = IncompatibleKeys(missing, unexpected)
        if post_hooks:
            for _, mod in reversed(modules):
                for hook in mod._hooks_of("_load_state_dict_post_hooks"):
                    if hook(mod, result) is not None:
                        raise RuntimeError(f"{type(mod).__name__}: a load_state_dict post-hook must return None "
                                           "(edit incompatible_keys in place)")
            if key_problems():
                fail(key_problems(), True)
        return result

    # --- more of PyTorch's Module API ------------------------------------------------------
    def get_parameter(self, target: str):
        """The Parameter at dotted path ``target`` (``"encoder.fc.weight"``)."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str):
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    def set_submodule(self, target: str, module, strict: bool = False):
        """Put ``module`` at dotted path ``target`` (its parent must exist). With ``strict`` the
        attribute must already exist; an existing attribute of that name must be a Module."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{type(parent).__name__} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module) \
                and name not in parent._modules:
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def _tensors(self):
        """Every parameter and buffer of the tree, once each (with its gradient)."""
        seen = set()
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield t

    def compile(self, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
                disable=False):
        """PyTorch's in-place ``Module.compile``: the arguments are checked as ``torch.compile``
        checks them; the module is left as it is (tinynet has no compiler: no speed-up)."""
        check_compile_args(fullgraph, dynamic, backend, mode, options, disable,
                           what=f"{type(self).__name__}.compile")

    def to_empty(self, *, device=None, recurse: bool = True):
        """Give every parameter and buffer new, uninitialised memory on ``device`` (same shape and
        dtype; the Parameter objects are kept). PyTorch uses it to materialise a model built on
        its meta device; here it is what ``nn.utils.skip_init`` ends with."""
        target = get_device(device) if device is not None else None
        mods = self.modules() if recurse else [self]
        seen = set()
        for m in mods:
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                dev = target or t.device
                t.array = dev.xp.empty(t.shape, dtype=t.dtype)
                t.device = dev
                t.grad = None
                t._bump()
        return self

    def type(self, dst_type):
        """Cast every parameter and buffer to ``dst_type`` (a tinynet dtype), integer buffers
        included, as PyTorch's ``Module.type``. A non-floating dtype is refused (TypeError,
        nothing changed) when a parameter requires grad."""
        dt = _dt.to_dtype(dst_type)
        if dt is None:
            raise TypeError(f"Module.type: expected a dtype, got {dst_type!r}")
        if dt.kind != "f" and any(p.requires_grad for p in self.parameters()):
            raise TypeError(f"Module.type: cannot cast {type(self).__name__} to {dt}: its parameters require grad, "
                            "and only floating tensors can; freeze them first (requires_grad_(False))")
        for t in self._tensors():
            if t.dtype != dt:
                t.array = t.array.astype(dt)
                t._bump()
                if t.grad is not None:
                    t.grad.array = t.grad.array.astype(dt)
                    t.grad._bump()
        return self

    def share_memory(self):
        """Move every cpu parameter and buffer (and gradient) into shared memory (an anonymous
        ``mmap(MAP_SHARED)``), as PyTorch's ``share_memory``: worker processes forked afterwards
        (``multiprocessing`` with the ``fork`` start method, e.g. Hogwild training) see the
        parent's writes and the parent theirs. The values and Parameter objects are kept. A
        module with tensors on a cuda device raises a DeviceError (tinynet shares only cpu memory)."""
        tensors = list(self._tensors())
        for t in tensors:
            if t.device.type != "cpu":
                raise DeviceError(f"Module.share_memory: {type(self).__name__} has tensors on {t.device.type}; "
                                  "tinynet shares only cpu memory: call .cpu() first")
        for t in tensors:
            for u in (t, t.grad):
                if u is None or _in_shared_memory(u.array):
                    continue
                nbytes = max(int(u.array.nbytes), 1)
                buf = mmap.mmap(-1, nbytes)
                arr = _np.frombuffer(buf, dtype=u.array.dtype, count=u.array.size).reshape(u.shape)
                arr[...] = u.array
                u.array = arr
        return self

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
