"""Optimizer: the base class of SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam,
ASGD and LBFGS.

An optimizer holds **parameter groups** (each a dict: ``"params"`` plus that group's
hyperparameters, e.g. a smaller lr for a pretrained backbone) and a per-parameter
**state** (momentum buffers, moment estimates). ``step()`` updates every parameter that
has a gradient, in place: SGD, Adam(W), RMSprop and Adagrad with a fused kernel of its device
(``kernels/cpu/optim.py``, ``kernels/cuda/optim.py``: one pass over memory per parameter, not
one per formula term); the others with the device's array module (``xp``). ``zero_grad()``
clears the gradients before the next backward.

``state_dict()`` is plain data, keyed by parameter *index* (the order of
``param_groups``), as PyTorch does, so it can be saved without pickle and loaded into a
freshly built optimizer over a freshly built model.

**Which optimizer wrote a state dict.** A saved parameter group holds its optimizer's
hyper-parameters, exactly as PyTorch's do (no tag of tinynet's own): ``load_state_dict``
judges the writer by those keys, which tell every pair apart, and Adam from AdamW by
PyTorch's ``decoupled_weight_decay`` flag, which both keep in their groups. The
``"initial_lr"`` a scheduler adds (and OneCycleLR's and CyclicLR's ``"max_lr"``, ``"min_lr"``,
``"max_momentum"``, ``"base_momentum"``), PyTorch's implementation switches (``"foreach"``...) and
any extra key the live group also has are allowed.

**Restoring is all or nothing.** ``load_state_dict`` checks everything (the dict's shape,
the class, the number of groups and of parameters per group, every hyper-parameter with
the constructor's rules, every state entry's keys, step count, shape and dtype) before it
changes anything, and raises one ``ValueError`` that names the optimizer, the group or
parameter index, what was expected and what came. Constructors and ``add_param_group``
use the same rules, with PyTorch's messages (``"Invalid learning rate: -1"``); unlike
PyTorch, NaN and infinite values are refused too.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from itertools import chain

import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.hooks import RemovableHandle, add_hook
from ..tensor.tensor import Tensor


class _Required:
    """Sentinel for a hyperparameter without a default (e.g. SGD's lr in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


# PyTorch's implementation switches. The constructors check them (check_switches); they change
# no number, so they are not kept in the parameter groups, and a PyTorch state dict's copies
# are accepted and dropped on load.
_TORCH_SWITCHES = frozenset({"foreach", "capturable", "differentiable", "fused"})

# What schedulers add to a parameter group: "initial_lr" (every LRScheduler), and OneCycleLR's and
# CyclicLR's "max_lr", "min_lr", "max_momentum", "base_momentum" (PyTorch's names). A saved group may
# hold them whatever the live group has; they are checked as numbers.
_SCHEDULER_KEYS = {"initial_lr": 0.0, "max_lr": 0.0, "min_lr": 0.0, "max_momentum": None, "base_momentum": None}

# Hyper-parameters that are pairs (a JSON round trip turns their tuples into lists).
_PAIR_KEYS = frozenset({"betas", "etas", "step_sizes", "eps"})

# PyTorch's names for hyper-parameters in its messages ("Invalid learning rate: -1").
_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def check_hyper(name: str, value, low=0.0, high=None, label=None):
    """Check one numeric hyper-parameter the way PyTorch's constructors do (``low <= value``,
    and ``value < high`` when given), with PyTorch's message (``"Invalid learning rate: -1"``,
    or ``f"Invalid {label}: ..."``), and also refuse NaN and ±inf, which PyTorch lets through
    for some (an infinite lr). ``low=None``: any finite number. Returns ``value``.

    Raises TypeError for a non-number (bools included), ValueError for a bad number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and (low is None or value >= low) and (high is None or value < high)):
        label = label or _LABELS.get(name, f"{name} value")
        want = "" if low is None else f" >= {low:g}" if high is None else f" in [{low:g}, {high:g})"
        raise ValueError(f"Invalid {label}: {value} (invalid {name}: expected a finite number{want})")
    return value


def check_flag(name: str, value):
    """Check a switch (``nesterov``, ``amsgrad``, ``maximize``...): TypeError unless a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_betas(betas):
    """Check Adam-style ``betas``: a pair, each in [0, 1) (PyTorch's message). Returns it as a tuple."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_hyper(f"betas[{i}]", beta, 0.0, 1.0, label=f"beta parameter at index {i}")
    return tuple(betas)


def check_switches(owner: str, foreach=None, fused=None, capturable=False, differentiable=False):
    """Check PyTorch's implementation switches, honouring what tinynet does and refusing the rest.

    tinynet has one implementation of every update: a loop over the parameters, each
    updated by one fused kernel pass (``kernels.*_step``), under ``no_grad``. So:

    * ``foreach``: None or False (the per-parameter loop, which is what runs) are accepted;
      True (PyTorch's multi-tensor implementation) raises ValueError;
    * ``fused``: None or True (one fused kernel per parameter, which is what runs) are
      accepted; False (an unfused implementation) raises ValueError;
    * ``capturable``: True (CUDA-graph capture) raises ValueError;
    * ``differentiable``: True (autograd through ``step()``) raises ValueError.

    A switch of the wrong type (``foreach="yes"``) raises TypeError.
    """
    for name, value, optional in (("foreach", foreach, True), ("fused", fused, True),
                                  ("capturable", capturable, False), ("differentiable", differentiable, False)):
        if not ((optional and value is None) or isinstance(value, (bool, np.bool_))):
            raise TypeError(f"{owner}: {name} must be {'None, ' if optional else ''}True or False, "
                            f"got {type(value).__name__} {value!r}")
    if foreach:
        raise ValueError(
            f"{owner}: foreach=True is not supported: tinynet has no multi-tensor (foreach) implementation; it "
            "updates the parameters one at a time with one fused kernel each, which gives the same numbers. "
            "Pass foreach=None (or False)."
        )
    if fused is not None and not fused:
        raise ValueError(
            f"{owner}: fused=False is not supported: tinynet's only update is one fused kernel pass per "
            "parameter (what fused=True asks for). Pass fused=None (or True)."
        )
    if capturable:
        raise ValueError(
            f"{owner}: capturable=True is not supported: tinynet has no CUDA-graph capture, so the step "
            "count stays a host number. Pass capturable=False."
        )
    if differentiable:
        raise ValueError(
            f"{owner}: differentiable=True is not supported: step() updates the parameters in place with a "
            "fused kernel under no_grad, so no gradient flows through it. Pass differentiable=False."
        )


def _as_index(key):
    """A saved parameter index as an int >= 0 (``"3"`` too: JSON keys), else None."""
    if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
        return int(key) if key >= 0 else None
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None


def _as_count(value):
    """A saved step count as an int >= 0, else None. A whole float and a 0-d tensor count
    (PyTorch saves ``step`` as ``tensor(3.)``); 2.5, -1, NaN and True do not."""
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        return None
    return int(value) if value >= 0 else None


def _as_number(value):
    """A saved scalar state (a number or a 0-d tensor, PyTorch's form) as a finite float, else None."""
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    return float(value)


def _optimizer_classes(cls=None):
    """Every Optimizer subclass defined so far (tinynet's and the user's)."""
    cls = cls or Optimizer
    for sub in cls.__subclasses__():
        yield sub
        yield from _optimizer_classes(sub)


def _hyper_keys(cls) -> set:
    """The hyper-parameters an optimizer class keeps in its groups: its constructor's
    arguments less ``params`` and PyTorch's implementation switches."""
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "params"} - _TORCH_SWITCHES
    if "decoupled_weight_decay" not in names and any("decoupled_weight_decay" in _hyper_keys(b)
                                                      for b in cls.__mro__[1:] if b is not Optimizer
                                                      and issubclass(b, Optimizer)):
        names.add("decoupled_weight_decay")  # AdamW: fixed to True, not an argument (as in PyTorch)
    return names


def _writer_of(saved: dict, keys: set):
    """The name of the optimizer class whose groups hold exactly ``keys`` (Adam or AdamW by
    the ``decoupled_weight_decay`` flag), or None."""
    matches = [c for c in _optimizer_classes() if _hyper_keys(c) == keys]
    if len(matches) > 1 and "decoupled_weight_decay" in keys:
        wanted = bool(saved.get("decoupled_weight_decay", False))
        matches = [c for c in matches if c.__name__ == ("AdamW" if wanted else "Adam")] or matches
    return matches[0].__name__ if matches else None


# Hooks run around every optimizer's step(), PyTorch's torch.optim.optimizer.register_optimizer_step_*_hook.
_global_optimizer_pre_hooks: dict = {}
_global_optimizer_post_hooks: dict = {}


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)``, called before every optimizer's ``step``
    (before the instance's own pre-hooks). It may return ``(new_args, new_kwargs)``, which
    ``step`` is then called with (``args`` starts with the optimizer itself, as in PyTorch).
    Returns a handle whose ``remove()`` unregisters it."""
    return add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)``, called after every optimizer's ``step``
    (after the instance's own post-hooks). Returns a removable handle."""
    return add_hook(_global_optimizer_post_hooks, hook)


def _hooks_of(opt, name: str) -> dict:
    """The instance's ``{id: hook}`` dict ``name`` (created on first use, so a subclass that
    sets things up before ``Optimizer.__init__`` still works)."""
    hooks = opt.__dict__.get(name)
    if hooks is None:
        hooks = opt.__dict__[name] = {}
    return hooks


def _outermost(opt, kind: str):
    """True when this is not a nested call of the same hooked method (a subclass's ``step``
    calling ``super().step()``): hooks run once per user call."""
    return not opt.__dict__.get(f"_in_{kind}", False)


def _with_step_hooks(func):
    """Wrap a ``step`` method so the global and the instance's step pre/post hooks run around it."""

    @functools.wraps(func)
    def step(*args, **kwargs):
        self = args[0]
        if not _outermost(self, "step"):
            return func(*args, **kwargs)
        self.__dict__["_in_step"] = True
        try:
            for hook in chain(list(_global_optimizer_pre_hooks.values()),
                              list(_hooks_of(self, "_optimizer_step_pre_hooks").values())):
                result = hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(f"{type(self).__name__}.step: a step pre-hook must return None or a tuple "
                                           f"of (new_args, new_kwargs), but got {result!r}.")
            out = func(*args, **kwargs)
            for hook in chain(list(_hooks_of(self, "_optimizer_step_post_hooks").values()),
                              list(_global_optimizer_post_hooks.values())):
                hook(self, args, kwargs)
            return out
        finally:
            self.__dict__["_in_step"] = False

    step._tinynet_hooked = True
    return step


def _with_state_dict_hooks(func):
    """Wrap ``state_dict``: pre-hooks ``hook(optimizer)`` before, post-hooks
    ``hook(optimizer, state_dict)`` after (a returned dict replaces the state dict)."""

    @functools.wraps(func)
    def state_dict(self):
        if not _outermost(self, "state_dict"):
            return func(self)
        self.__dict__["_in_state_dict"] = True
        try:
            for hook in list(_hooks_of(self, "_optimizer_state_dict_pre_hooks").values()):
                hook(self)
            out = func(self)
            for hook in list(_hooks_of(self, "_optimizer_state_dict_post_hooks").values()):
                new = hook(self, out)
                if new is not None:
                    out = new
            return out
        finally:
            self.__dict__["_in_state_dict"] = False

    state_dict._tinynet_hooked = True
    return state_dict


def _with_load_state_dict_hooks(func):
    """Wrap ``load_state_dict``: pre-hooks ``hook(optimizer, state_dict)`` get a shallow copy
    and may return a replacement; post-hooks ``hook(optimizer)`` run after the load."""

    @functools.wraps(func)
    def load_state_dict(self, state_dict):
        if not _outermost(self, "load_state_dict"):
            return func(self, state_dict)
        self.__dict__["_in_load_state_dict"] = True
        try:
            pre = list(_hooks_of(self, "_optimizer_load_state_dict_pre_hooks").values())
            if pre and isinstance(state_dict, dict):
                state_dict = dict(state_dict)  # the hooks see a shallow copy, as in PyTorch
            for hook in pre:
                new = hook(self, state_dict)
                if new is not None:
                    state_dict = new
            out = func(self, state_dict)
            for hook in list(_hooks_of(self, "_optimizer_load_state_dict_post_hooks").values()):
                hook(self)
            return out
        finally:
            self.__dict__["_in_load_state_dict"] = False

    load_state_dict._tinynet_hooked = True
    return load_state_dict


_HOOKED = {"step": _with_step_hooks, "state_dict": _with_state_dict_hooks,
           "load_state_dict": _with_load_state_dict_hooks}


class Optimizer:
    """Base class (see the module docstring). Subclasses define ``_update_group(group)``,
    extend ``_validate_group(group)`` with their hyper-parameters' checks, and name their
    per-parameter state in ``_state_required`` / ``_state_optional`` (what
    ``load_state_dict`` accepts)."""

    #: state keys every saved entry must have, and those it may have (None: anything more)
    _state_required: tuple = ()
    _state_optional: tuple | None = None
    #: state keys held as plain numbers besides ``step`` (NAdam's ``mu_product``, ASGD's
    #: ``eta`` and ``mu``: 0-d tensors in PyTorch's state dicts, accepted as such on load)
    _state_scalars: tuple = ()
    #: True for Adam/AdamW, whose class is told apart by the ``decoupled_weight_decay`` flag
    #: (NAdam and RAdam have the flag too, as a plain hyper-parameter)
    _flag_names_class: bool = False

    def __init_subclass__(cls, **kwargs):
        """A subclass's own ``step``, ``state_dict`` and ``load_state_dict`` get the hooks too
        (PyTorch patches ``step`` the same way); a nested ``super()`` call runs them once."""
        super().__init_subclass__(**kwargs)
        for name, wrap in _HOOKED.items():
            method = cls.__dict__.get(name)
            if method is not None and callable(method) and not getattr(method, "_tinynet_hooked", False):
                setattr(cls, name, wrap(method))

    # --- hooks ------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)``, called before this optimizer's ``step``;
        it may return ``(new_args, new_kwargs)`` to change the call. Returns a removable handle."""
        return add_hook(_hooks_of(self, "_optimizer_step_pre_hooks"), hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)``, called after this optimizer's ``step``."""
        return add_hook(_hooks_of(self, "_optimizer_step_post_hooks"), hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer)``, called before :meth:`state_dict` builds the dict
        (``prepend=True``: before the hooks already registered)."""
        return add_hook(_hooks_of(self, "_optimizer_state_dict_pre_hooks"), hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict) -> state_dict or None``, called on the dict
        :meth:`state_dict` built; it may change it in place or return a new one."""
        return add_hook(_hooks_of(self, "_optimizer_state_dict_post_hooks"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict) -> state_dict or None``, called before
        :meth:`load_state_dict` with a shallow copy of the dict given; a returned dict is
        the one loaded."""
        return add_hook(_hooks_of(self, "_optimizer_load_state_dict_pre_hooks"), hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer)``, called after :meth:`load_state_dict` has loaded."""
        return add_hook(_hooks_of(self, "_optimizer_load_state_dict_post_hooks"), hook, prepend)

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor; "
                "pass [tensor] or model.parameters()"
            )
        if all(v is not required for v in self.defaults.values()):  # PyTorch checks the arguments first
            self._checked(self.defaults, name)
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # --- groups ---------------------------------------------------------------------------
    def add_param_group(self, param_group: dict):
        """Add a group of parameters with its own hyperparameters (missing ones take the
        defaults). Everything is checked before the group is added."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}: add_param_group: the group has no 'params'")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (one computed by an op)")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating tensors, got {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in one group")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(
                    f"{name}: parameter group didn't specify a value of required optimization parameter {key}")
            group.setdefault(key, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self._checked(group, name)
        self.param_groups.append(group)

    def _validate_group(self, group: dict):
        """Check a group's hyperparameters (subclasses extend). Messages are PyTorch's, bare:
        the caller says which optimizer and which group."""
        check_hyper("lr", group["lr"])
        for key, low in _SCHEDULER_KEYS.items():  # set by a scheduler (base_lrs come from initial_lr)
            if key in group:
                check_hyper(key, group[key], low=low)
        if "maximize" in group:
            check_flag("maximize", group["maximize"])

    def _checked(self, group: dict, where: str):
        """:meth:`_validate_group` with ``where`` (the optimizer, the group) put in front of the message."""
        try:
            self._validate_group(group)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from None

    # --- the update -------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True):
        """Clear the gradients of every parameter (to None by default, else to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array.fill(0)
                    p.grad._bump()

    @_with_step_hooks
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates and returns
        the loss, with gradients) is called first when given. Returns the closure's loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- helpers for subclasses -----------------------------------------------------------------
    @staticmethod
    def _flat_param(p):
        """A flat contiguous view of ``p``'s data (or a copy, written back by :meth:`_finish`)."""
        d = p.array
        if d.flags.c_contiguous:
            return d.reshape(-1), False
        return p.device.xp.ascontiguousarray(d).reshape(-1), True

    @staticmethod
    def _finish(p, flat, copied):
        if copied:
            p.array[...] = flat.reshape(p.array.shape)
        p._bump()

    @staticmethod
    def _flat_grad(p):
        g = p.grad.array
        if g.dtype != p.array.dtype:
            g = g.astype(p.array.dtype)
        if tuple(g.shape) != tuple(p.array.shape):
            raise ValueError(f"optimizer: a gradient of shape {tuple(g.shape)} for a parameter of shape {tuple(p.shape)}")
        return p.device.xp.ascontiguousarray(g).reshape(-1)

    def _grad_and_param(self, p, group):
        """The flat gradient and parameter of ``p`` for an array-expression update, PyTorch's
        preamble applied: the gradient negated under ``maximize``, then weight decay, either
        added to the gradient (L2) or, with ``decoupled_weight_decay``, shrinking the
        parameter by ``lr * weight_decay`` (AdamW's form). Returns ``(grad, param, copied)``;
        hand ``param, copied`` to :meth:`_finish` after updating ``param`` in place."""
        grad = self._flat_grad(p)
        param, copied = self._flat_param(p)
        if group["maximize"]:
            grad = -grad
        wd = group["weight_decay"]
        if wd != 0:
            if group.get("decoupled_weight_decay", False):
                param *= 1 - group["lr"] * wd
            else:
                grad = grad + wd * param
        return grad, param, copied

    def _param_state(self, p, buffers, optional=()):
        """The state of ``p`` for a step: created with ``step`` 0 and a zero tensor for each
        name in ``buffers`` on first use; each ``(name, wanted)`` of ``optional`` adds a zero
        buffer when ``wanted`` and missing (e.g. ``max_exp_avg_sq`` once amsgrad is on)."""
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = 0
            for name in buffers:
                state[name] = self._zeros_like(p)
        for name, wanted in optional:
            if wanted and name not in state:
                state[name] = self._zeros_like(p)
        return state

    @staticmethod
    def _zeros_like(p, fill=0.0):
        xp = p.device.xp
        return Tensor._make(xp.full(p.array.shape, fill, dtype=p.array.dtype), p.device)

    @staticmethod
    def _empty(p):
        return p.device.xp.empty(0, dtype=p.array.dtype)

    def _state_array(self, p, state: dict, key: str):
        """``state[key]``'s flat array, moved/cast to match ``p`` if the model moved since."""
        t = state[key]
        if t.device is not p.device or t.array.dtype != p.array.dtype:
            arr = p.device.from_host(t.device.to_host(t.array)) if t.device is not p.device else t.array
            t = Tensor._make(arr.astype(p.array.dtype), p.device)
            state[key] = t
        return t.array.reshape(-1)

    # --- saving and loading -----------------------------------------------------------------
    def _index(self):
        """``id(param) -> index`` in the order of the groups (the state_dict's keys)."""
        out, i = {}, 0
        for group in self.param_groups:
            for p in group["params"]:
                if id(p) not in out:
                    out[id(p)] = i
                    i += 1
        return out

    @_with_state_dict_hooks
    def state_dict(self) -> dict:
        """``{"state": {index: {name: Tensor or number}}, "param_groups": [{..., "params": [index]}]}``,
        PyTorch's layout.

        Plain data: tensors, numbers, strings, tuples and lists. The tensors are the live
        state (as in PyTorch); ``tn.save`` writes them out.
        """
        index = self._index()
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index[id(p)]] = {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    @_with_load_state_dict_hooks
    def load_state_dict(self, state_dict: dict):
        """Restore hyperparameters and state from :meth:`state_dict` -- all or nothing.

        Everything is checked first: the dict's shape, that it is this optimizer's (class
        the groups' keys), the number of groups and of parameters per
        group (PyTorch's messages), every hyper-parameter (the constructor's rules), and
        each state entry (its keys, a whole ``step`` >= 0, arrays of the parameter's shape
        and a floating dtype, an index some group lists). Any problem: one ``ValueError``
        listing them, and nothing changes. State tensors are copied onto each parameter's
        device and dtype; the live groups keep their parameters and any key the state dict
        lacks (e.g. ``initial_lr``).
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        saved_groups, saved_state = self._check_layout(state_dict, where)
        for gi, saved in enumerate(saved_groups):
            self._check_origin(gi, saved, where)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: loaded state dict has a different number of parameter groups (the state dict has "
                f"{len(saved_groups)} parameter group(s), {name} has {len(self.param_groups)})"
            )
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{where}: loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group (parameter group {gi} has {len(saved['params'])} parameter(s) in the state "
                    f"dict, {len(group['params'])} in {name})"
                )
        problems, id_map, new_groups = [], {}, []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            for key, p in zip(saved["params"], group["params"]):
                i = _as_index(key)
                if i is None:
                    problems.append(f"parameter group {gi}: parameter index {key!r} is not an int >= 0")
                elif i in id_map:
                    problems.append(f"parameter group {gi}: parameter index {i} is listed twice")
                else:
                    id_map[i] = p
            hyper = {k: (tuple(v) if k in _PAIR_KEYS and isinstance(v, list) else v) for k, v in saved.items()
                     if k != "params" and k not in _TORCH_SWITCHES}
            try:
                self._validate_group({**group, **hyper})
            except (TypeError, ValueError) as exc:
                problems.append(f"parameter group {gi}: {exc}")
            new_groups.append(hyper)
        new_state = {}
        for key, saved in saved_state.items():
            i = _as_index(key)
            if i not in id_map:
                problems.append(f"state for parameter index {key!r}, which no parameter group lists")
                continue
            entry = self._load_param_state(i, id_map[i], saved, problems)
            if entry is not None:
                new_state[id_map[i]] = entry
        if problems:
            raise ValueError(f"{where}: the state dict does not fit (nothing was changed):\n  " + "\n  ".join(problems))
        for group, hyper in zip(self.param_groups, new_groups):
            group.update(hyper)
        self.state = new_state

    @staticmethod
    def _check_layout(state_dict, where):
        """The dict's top level: ``(param_groups, state)``, or ValueError."""
        if not isinstance(state_dict, dict):
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups', "
                             f"got {type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups', got one without "
                             f"{' and '.join(map(repr, missing))} (keys: {sorted(map(str, state_dict))})")
        groups, state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)):
            raise ValueError(f"{where}: 'param_groups' must be a list of dicts, got {type(groups).__name__}")
        for gi, g in enumerate(groups):
            if not isinstance(g, dict) or not isinstance(g.get("params"), (list, tuple)):
                got = "a dict without a 'params' list" if isinstance(g, dict) else type(g).__name__
                raise ValueError(f"{where}: parameter group {gi} must be a dict with a 'params' list, got {got}")
        if not isinstance(state, dict):
            raise ValueError(f"{where}: 'state' must be a dict of per-parameter dicts, got {type(state).__name__}")
        return list(groups), state

    def _check_origin(self, gi: int, saved: dict, where: str):
        """Refuse a saved group written by another optimizer, judged by its hyper-parameter
        keys and, for Adam/AdamW, PyTorch's ``decoupled_weight_decay`` flag (module docstring)."""
        name = type(self).__name__
        keys = set(saved) - {"params"} - set(_SCHEDULER_KEYS) - _TORCH_SWITCHES
        writer = _writer_of(saved, keys) or _writer_of(saved, keys | {"decoupled_weight_decay"})
        if "decoupled_weight_decay" in self.defaults:
            keys.add("decoupled_weight_decay")  # absent in PyTorch before 2.6: the live group's value stays
        known = set(self.defaults).union(*(g.keys() for g in self.param_groups))
        missing, unexpected = sorted(set(self.defaults) - keys), sorted(map(str, keys - known))
        if missing or unexpected:
            whose = f"the state dict is {writer}'s, not {name}'s: " if writer and writer != name else ""
            raise ValueError(f"{where}: {whose}parameter group {gi} holds another optimizer's hyper-parameters: "
                             f"expected {name}'s {sorted(self.defaults)}, missing {missing}, unexpected {unexpected}")
        flag = saved.get("decoupled_weight_decay")
        live = self.param_groups[gi].get("decoupled_weight_decay") if gi < len(self.param_groups) else None
        if self._flag_names_class and flag is not None and live is not None and bool(flag) != live:
            raise ValueError(f"{where}: the state dict is {writer or 'another optimizer'}'s, not {name}'s "
                             f"(parameter group {gi} has decoupled_weight_decay={flag!r}, this {name} has {live}); "
                             f"build {'AdamW' if flag else 'Adam'} to load it")

    def _state_shape(self, p, key: str) -> tuple:
        """The shape a saved state array ``key`` of parameter ``p`` must have: the parameter's
        (Adafactor's factored moments override this)."""
        return tuple(p.shape)

    def _load_param_state(self, i: int, p, saved, problems: list):
        """Parameter ``i``'s saved state, checked and copied onto ``p``'s device and dtype
        (None, with the reasons appended to ``problems``, if it does not fit)."""
        if not isinstance(saved, dict):
            problems.append(f"parameter {i}: state must be a dict, got {type(saved).__name__}")
            return None
        saved = {k: v for k, v in saved.items() if v is not None}  # PyTorch saves an absent buffer as None
        missing = [k for k in self._state_required if k not in saved]
        allowed = None if self._state_optional is None else {*self._state_required, *self._state_optional}
        unexpected = [] if allowed is None else [k for k in saved if k not in allowed]
        if missing or unexpected:
            problems.append(f"parameter {i}: state has keys {sorted(map(str, saved))}, {type(self).__name__} expects "
                            f"{sorted(self._state_required)} and may have {sorted(self._state_optional or ())}")
            return None
        n = len(problems)
        entry = {}
        for k, v in saved.items():
            if k == "step":
                entry[k] = _as_count(v)
                if entry[k] is None:
                    problems.append(f"parameter {i}: step must be a whole number >= 0, got {v!r}")
                continue
            if k in self._state_scalars:
                entry[k] = _as_number(v)
                if entry[k] is None:
                    problems.append(f"parameter {i}: state {k!r} must be a finite number (or a 0-d tensor), "
                                    f"got {v!r}")
                continue
            if not (hasattr(v, "shape") and hasattr(v, "dtype")):
                if allowed is None:  # a subclass that does not name its state: keep numbers as they are
                    entry[k] = v
                else:
                    problems.append(f"parameter {i}: state {k!r} must be an array, got {type(v).__name__} {v!r}")
                continue
            try:
                host = v.device.to_host(v.array) if isinstance(v, Tensor) else np.asarray(v)
            except (TypeError, ValueError, RuntimeError) as exc:
                problems.append(f"parameter {i}: state {k!r} could not be read as an array ({exc})")
                continue
            want = self._state_shape(p, k)
            if tuple(host.shape) != want:
                exp = f"parameter has {tuple(p.shape)}" if want == tuple(p.shape) else \
                    f"expected {want} (the parameter's shape is {tuple(p.shape)})"
                problems.append(f"parameter {i}: state {k!r} has shape {tuple(host.shape)}, {exp}")
            elif host.dtype.kind != "f":
                problems.append(f"parameter {i}: state {k!r} has dtype {host.dtype}, expected a floating dtype "
                                f"(the parameter's is {p.array.dtype})")
            else:
                host = host.astype(p.array.dtype, copy=False)  # the parameter's dtype, as PyTorch casts
                entry[k] = Tensor._make(p.device.from_host(host), p.device)  # always a copy
        return entry if len(problems) == n else None

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)
