"""Optimizer: the base class of SGD, Adam, AdamW, RMSprop and Adagrad.

An optimizer holds **parameter groups** (each a dict: ``"params"`` plus that group's
hyperparameters, e.g. a smaller lr for a pretrained backbone) and a per-parameter
**state** (momentum buffers, moment estimates). ``step()`` updates every parameter that
has a gradient, in place, with a fused kernel of its device (``kernels/cpu/optim.py``,
``kernels/cuda/optim.py``): one pass over memory per parameter, not one per formula
term. ``zero_grad()`` clears the gradients before the next backward.

``state_dict()`` is plain data, keyed by parameter *index* (the order of
``param_groups``), as PyTorch does, so it can be saved without pickle and loaded into a
freshly built optimizer over a freshly built model.
"""
from __future__ import annotations

import numbers

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor.tensor import Tensor


class _Required:
    """Sentinel for a hyperparameter without a default (e.g. SGD's lr in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def check_hyper(name: str, value, low=0.0, high=None, low_open=False, opt: str = "optimizer"):
    """Validate one numeric hyperparameter (ValueError naming it and the valid range)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{opt}: {name} must be a number, got {type(value).__name__}")
    bad = value < low or (low_open and value == low) or (high is not None and value >= high)
    if bad:
        lo = "(" if low_open else "["
        hi = f"{high})" if high is not None else "inf)"
        raise ValueError(f"{opt}: invalid {name}: {value} (expected a value in {lo}{low}, {hi})")
    return value


class Optimizer:
    """Base class (see the module docstring). Subclasses define ``_update_group(group)``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, got a single Tensor; "
                "pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # --- groups ---------------------------------------------------------------------------
    def add_param_group(self, param_group: dict):
        """Add a group of parameters with its own hyperparameters (missing ones take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("add_param_group: the group has no 'params'")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor (one computed by an op)")
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize floating tensors, got {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in one group")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of required {name!r}")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self._validate_group(group)
        self.param_groups.append(group)

    def _validate_group(self, group: dict):
        """Check a group's hyperparameters (subclasses extend)."""
        check_hyper("lr", group["lr"], opt=type(self).__name__)

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
                    p.grad.data.fill(0)
                    p.grad._bump()

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
        d = p.data
        if d.flags.c_contiguous:
            return d.reshape(-1), False
        return p.device.xp.ascontiguousarray(d).reshape(-1), True

    @staticmethod
    def _finish(p, flat, copied):
        if copied:
            p.data[...] = flat.reshape(p.data.shape)
        p._bump()

    @staticmethod
    def _flat_grad(p):
        g = p.grad.data
        if g.dtype != p.data.dtype:
            g = g.astype(p.data.dtype)
        if tuple(g.shape) != tuple(p.data.shape):
            raise ValueError(f"optimizer: a gradient of shape {tuple(g.shape)} for a parameter of shape {tuple(p.shape)}")
        return p.device.xp.ascontiguousarray(g).reshape(-1)

    @staticmethod
    def _zeros_like(p, fill=0.0):
        xp = p.device.xp
        return Tensor._make(xp.full(p.data.shape, fill, dtype=p.data.dtype), p.device)

    @staticmethod
    def _empty(p):
        return p.device.xp.empty(0, dtype=p.data.dtype)

    def _state_array(self, p, state: dict, key: str):
        """``state[key]``'s flat array, moved/cast to match ``p`` if the model moved since."""
        t = state[key]
        if t.device is not p.device or t.data.dtype != p.data.dtype:
            arr = p.device.from_host(t.device.to_host(t.data)) if t.device is not p.device else t.data
            t = Tensor._make(arr.astype(p.data.dtype), p.device)
            state[key] = t
        return t.data.reshape(-1)

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

    def state_dict(self) -> dict:
        """``{"state": {index: {name: Tensor or number}}, "param_groups": [{..., "params": [index]}]}``.

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

    def load_state_dict(self, state_dict: dict):
        """Restore hyperparameters and state from :meth:`state_dict`.

        Everything is checked first (number of groups and of parameters per group, each
        state tensor's shape); on a mismatch a ValueError says what differs and nothing
        changes. State tensors are copied onto each parameter's device and dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter group(s) but the "
                f"optimizer has {len(self.param_groups)}"
            )
        id_map = {}
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {gi} has {len(saved['params'])} parameter(s) in the "
                    f"state dict but {len(group['params'])} in the optimizer"
                )
            for idx, p in zip(saved["params"], group["params"]):
                id_map[int(idx)] = p
        new_state = {}
        problems = []
        for idx, s in dict(state_dict["state"]).items():
            try:
                p = id_map[int(idx)]
            except (KeyError, ValueError):
                problems.append(f"  state for parameter index {idx!r}, which no parameter group lists")
                continue
            entry = {}
            for k, v in dict(s).items():
                if k == "step" or (getattr(v, "ndim", None) == 0 and p.ndim != 0):
                    entry[k] = v.item() if hasattr(v, "item") else v
                    continue
                if isinstance(v, Tensor):
                    arr, dev = v.data, v.device
                elif hasattr(v, "shape") and hasattr(v, "dtype") and getattr(v, "ndim", 0) > 0:
                    import numpy as _np

                    arr, dev = _np.asarray(v), None
                else:
                    entry[k] = v.item() if hasattr(v, "item") else v
                    continue
                if tuple(arr.shape) != tuple(p.shape):
                    problems.append(f"  parameter {idx}: state {k!r} has shape {tuple(arr.shape)}, parameter has {tuple(p.shape)}")
                    continue
                host = arr if dev is None else dev.to_host(arr)
                host = host.astype(p.dtype) if host.dtype.kind == "f" else host
                entry[k] = Tensor._make(p.device.from_host(host) if p.device.xp.__name__ != "numpy" else host.copy(),
                                        p.device)
            if "step" in entry:
                entry["step"] = int(entry["step"])
            new_state[p] = entry
        if problems:
            raise ValueError(f"{name}.load_state_dict: the state does not fit the parameters (nothing was changed):\n"
                             + "\n".join(problems))
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) and k == "betas" else v
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)
