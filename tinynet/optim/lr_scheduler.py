"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``, same numbers).

A scheduler changes ``group["lr"]`` of an optimizer's parameter groups. Call
``scheduler.step()`` once per epoch (or per iteration), *after* ``optimizer.step()``::

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(); sched.step()

Like PyTorch's, the schedules are *chainable*: each step multiplies the current lr by a
factor (so two schedulers on one optimizer compose). Constructing a scheduler performs
step 0 (``last_epoch`` becomes 0). ``ReduceLROnPlateau`` instead watches a metric:
``sched.step(val_loss)``.

``state_dict()`` is plain data (numbers and lists), so it can go in a checkpoint. User
functions (LambdaLR's and MultiplicativeLR's ``lr_lambda``, CyclicLR's ``scale_fn``) are
saved as PyTorch saves them: None for a plain function or lambda, the attributes of a
callable object otherwise (restored into the live object on load).

Per-batch schedules (OneCycleLR, CyclicLR) also move the momentum (SGD's ``momentum`` or
Adam's ``betas[0]``) and keep their bounds in the parameter groups under PyTorch's names
(``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum``), which the optimizer's state
dict carries. ChainedScheduler steps several schedulers together; SequentialLR runs them
one after another.

**Which scheduler wrote a state dict.** Like PyTorch's, a state dict is the scheduler's
attributes (all but the optimizer), plus one class tag, ``"scheduler": "StepLR"``
(:data:`CLASS_KEY`). ``load_state_dict`` refuses a dict whose tag names another class, and
-- tagged or not, so older tinynet checkpoints still load -- one whose keys differ from
this scheduler's own ``state_dict()`` keys (StepLR has ``step_size``, CosineAnnealingLR
``T_max``...). SequentialLR checks each nested scheduler's state the same way.

**Restoring is all or nothing.** Every value is checked first -- the constructor's rules
for the hyper-parameters (positive int ``step_size``, finite ``gamma > 0``...), an int
``last_epoch >= -1`` (-1: not started, which a SequentialLR stage that has not begun
records), one finite ``lr >= 0`` per parameter group in ``base_lrs`` and ``_last_lr`` --
and a ``ValueError`` naming the scheduler, the key, what was expected and what came
leaves everything as it was. Constructors use PyTorch's messages where PyTorch has one.
"""
from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from collections import Counter

import numpy as np

from .optimizer import Optimizer, check_flag

CLASS_KEY = "scheduler"
"""The key of the class tag in a scheduler's state dict (see the module docstring)."""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_finite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def _require(ok: bool, where: str, message: str, **got):
    """Raise ``ValueError(f"{where}: {message} (got name=value)")`` unless ``ok``."""
    if not ok:
        (key, value), = got.items()
        raise ValueError(f"{where}: {message} (got {key}={value!r})")


def _check_lrs(where: str, key: str, values, n: int):
    """``values`` must be ``n`` finite lrs >= 0, one per parameter group."""
    _require(isinstance(values, (list, tuple)) and len(values) == n, where,
             f"{key} must be a list of {n} lr(s), one per parameter group of the optimizer", **{key: values})
    for i, lr in enumerate(values):
        _require(_is_finite(lr) and lr >= 0, where, f"{key}[{i}] must be a finite number >= 0", **{key: values})


def _checked_keys(scheduler, state_dict, where: str) -> dict:
    """A copy of ``state_dict`` without its class tag, if it is ``scheduler``'s kind of
    state: the same tag (when tagged) and the same keys as ``scheduler.state_dict()``."""
    name = type(scheduler).__name__
    if not isinstance(state_dict, dict):
        raise ValueError(f"{where}: expected a dict ({name}'s state_dict()), got {type(state_dict).__name__}")
    state = dict(state_dict)
    tag = state.pop(CLASS_KEY, None)
    if tag is not None and tag != name:
        raise ValueError(f"{where}: the state dict is {tag}'s, not {name}'s ({CLASS_KEY}={tag!r})")
    expected = set(scheduler.state_dict()) - {CLASS_KEY}
    missing, unexpected = sorted(expected - set(state)), sorted(map(str, set(state) - expected))
    if missing or unexpected:
        raise ValueError(f"{where}: not {name}'s state (another scheduler's?): expected the keys {sorted(expected)}, "
                         f"missing {missing}, unexpected {unexpected}")
    return state


class LRScheduler:
    """Base class: keeps ``base_lrs`` (the initial lrs), ``last_epoch`` and the last lrs set."""

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer (expected a tinynet Optimizer)")
        _require(_is_int(last_epoch) and last_epoch >= -1, name, "last_epoch must be an int >= -1",
                 last_epoch=last_epoch)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', needed to resume with "
                        f"last_epoch={last_epoch}; load the optimizer's state_dict first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list:
        """The lrs for the current ``last_epoch`` (chainable form); subclasses define it."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The lrs most recently set by this scheduler, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``, using the closed form where there is one)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = int(epoch)
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def state_dict(self) -> dict:
        """Everything but the optimizer, as plain data, and the class tag (:data:`CLASS_KEY`)."""
        out = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, Counter) else v)
               for k, v in self.__dict__.items() if k != "optimizer"}
        out[CLASS_KEY] = type(self).__name__
        return out

    def load_state_dict(self, state_dict: dict):
        """Restore a state from :meth:`state_dict` (the optimizer's lrs come from its own
        state). All or nothing: another scheduler's state, or a nonsensical value, raises
        ValueError and changes nothing (see the module docstring)."""
        self._apply_state(self._checked_state(state_dict, f"{type(self).__name__}.load_state_dict"))

    def _checked_state(self, state_dict, where: str) -> dict:
        """The attributes to restore from ``state_dict``, all checked; changes nothing."""
        state = _checked_keys(self, state_dict, where)
        n = len(self.optimizer.param_groups)
        _require(_is_int(state["last_epoch"]) and state["last_epoch"] >= -1, where, "last_epoch must be an int >= -1",
                 last_epoch=state["last_epoch"])
        _require(_is_int(state["_step_count"]) and state["_step_count"] >= 0, where, "_step_count must be an int >= 0",
                 _step_count=state["_step_count"])
        _require(isinstance(state["_is_initial"], (bool, np.bool_)), where, "_is_initial must be True or False",
                 _is_initial=state["_is_initial"])
        _check_lrs(where, "base_lrs", state["base_lrs"], n)
        _check_lrs(where, "_last_lr", state["_last_lr"], n)
        self._check_hypers(state, where)
        return state

    def _apply_state(self, state: dict):
        for k, v in state.items():
            self.__dict__[k] = list(v) if k in ("base_lrs", "_last_lr") else v

    def _check_hypers(self, values: dict, where: str):
        """Check this class's own hyper-parameters in ``values`` (the constructor's arguments,
        or a loaded state): ValueError starting with ``where``. Subclasses define it."""


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: ``lr = base·γ^(epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        hypers = dict(step_size=step_size, gamma=gamma)
        self._check_hypers(hypers, "StepLR")
        self.step_size = hypers["step_size"]
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        # PyTorch's well-known Transformer tutorial passes step_size=1.0: a whole-valued float
        # is taken as that int (a fractional step size is refused)
        size = values["step_size"]
        if isinstance(size, float) and size.is_integer():
            size = values["step_size"] = int(size)
        _require(_is_int(size) and size > 0, where, "step_size must be a positive int", step_size=values["step_size"])
        _require(_is_finite(values["gamma"]) and values["gamma"] > 0, where, "gamma must be a finite number > 0",
                 gamma=values["gamma"])

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch in ``milestones``."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        _require(all(_is_int(m) for m in milestones), "MultiStepLR", "milestones must be ints", milestones=milestones)
        self._check_hypers(dict(milestones=Counter(int(m) for m in milestones), gamma=gamma), "MultiStepLR")
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        ms = values["milestones"]
        _require(isinstance(ms, dict) and all(_is_int(m) and _is_int(c) and c > 0 for m, c in ms.items()), where,
                 "milestones must map int epochs to int counts > 0", milestones=ms)
        _require(_is_finite(values["gamma"]) and values["gamma"] > 0, where, "gamma must be a finite number > 0",
                 gamma=values["gamma"])

    def _apply_state(self, state):
        super()._apply_state({**state, "milestones": Counter({int(m): int(c) for m, c in state["milestones"].items()})})

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        ms = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(ms, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: ``lr = base·γ^epoch``."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self._check_hypers(dict(gamma=gamma), "ExponentialLR")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        _require(_is_finite(values["gamma"]) and values["gamma"] > 0, where, "gamma must be a finite number > 0",
                 gamma=values["gamma"])

    def get_lr(self):
        if self._is_initial:  # (resuming with last_epoch >= 0 must not take a step ahead)
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from the base lr to ``eta_min`` over ``T_max`` epochs (SGDR without restarts)::

        lr = eta_min + (base − eta_min)·(1 + cos(π·epoch / T_max)) / 2

    applied recursively (PyTorch's chainable form; past ``T_max`` it rises again).
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self._check_hypers(dict(T_max=T_max, eta_min=eta_min), "CosineAnnealingLR")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        _require(_is_int(values["T_max"]) and values["T_max"] > 0, where, "T_max must be a positive int",
                 T_max=values["T_max"])
        _require(_is_finite(values["eta_min"]) and values["eta_min"] >= 0, where,
                 "eta_min must be a finite number >= 0", eta_min=values["eta_min"])

    def get_lr(self):
        lrs = self._current_lrs()
        if self._is_initial:
            return lrs
        if self._step_count == 1 and self.last_epoch > 0:
            return [self.eta_min + (base - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                    for base in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [lr + (base - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for lr, base in zip(lrs, self.base_lrs)]
        return [(1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max)) * (lr - self.eta_min) + self.eta_min
                for lr in lrs]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): the lr factor goes from ``start_factor`` to ``end_factor``
    over ``total_iters`` steps, then stays: ``lr = base·(s + (e − s)·min(epoch, T)/T)``."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        self._check_hypers(dict(start_factor=start_factor, end_factor=end_factor, total_iters=total_iters), "LinearLR")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        start, end, total = values["start_factor"], values["end_factor"], values["total_iters"]
        _require(_is_finite(start) and 0 < start <= 1, where,
                 "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
                 start_factor=start)
        _require(_is_finite(end) and 0 <= end <= 1, where,
                 "Ending multiplicative factor expected to be between 0 and 1.", end_factor=end)
        _require(_is_int(total) and total > 0, where, "total_iters must be a positive int", total_iters=total)

    def get_lr(self):
        lrs = self._current_lrs()
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        span = self.end_factor - self.start_factor
        return [lr * (1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span))
                for lr in lrs]

    def _get_closed_form_lr(self):
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` (restarted at its
    epoch 0), and so on: e.g. a LinearLR warm-up followed by CosineAnnealingLR."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers = list(schedulers)
        milestones = [int(m) for m in milestones]
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        _require(_is_int(last_epoch) and last_epoch >= -1, "SequentialLR", "last_epoch must be an int >= -1",
                 last_epoch=last_epoch)
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: scheduler {i} is ReduceLROnPlateau, which needs a metric; not supported")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({type(s).__name__}) belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expects one milestone fewer than schedulers, got {len(schedulers)} schedulers "
                f"and {len(milestones)} milestones"
            )
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {milestones}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo(self)  # undo the step each scheduler took when it was built
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()
        self._step_count = 1
        self._is_initial = False

    @staticmethod
    def _recursive_undo(sched):
        """Take one epoch back from every scheduler inside (a ChainedScheduler's too), as PyTorch."""
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                SequentialLR._recursive_undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self, epoch=None):
        """Advance one epoch. ``epoch`` is refused (TypeError, as PyTorch's ``SequentialLR.step()``
        takes none): a jump would have to restart the stages in between."""
        if epoch is not None:
            raise TypeError("SequentialLR.step() takes no epoch (as in PyTorch); call step() once per epoch")
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self):
        out = {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
               if k not in ("optimizer", "_schedulers")}
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        out[CLASS_KEY] = type(self).__name__
        return out

    def _checked_state(self, state_dict, where):
        """Also each nested scheduler's state, by that scheduler's own checks."""
        state = super()._checked_state(state_dict, where)
        ms, subs, n = state["_milestones"], state["_schedulers"], len(self._schedulers)
        _require(isinstance(ms, (list, tuple)) and len(ms) == n - 1 and all(_is_int(m) for m in ms)
                 and list(ms) == sorted(ms), where, f"_milestones must be {n - 1} increasing int(s)", _milestones=ms)
        if not isinstance(subs, (list, tuple)) or len(subs) != n:
            got = f"{len(subs)} scheduler states" if isinstance(subs, (list, tuple)) else type(subs).__name__
            raise ValueError(f"{where}: _schedulers must hold the states of this SequentialLR's {n} schedulers, "
                             f"got {got}")
        state["_schedulers"] = [s._checked_state(sd, f"{where}: scheduler {i}")
                                for i, (s, sd) in enumerate(zip(self._schedulers, subs))]
        return state

    def _apply_state(self, state):
        super()._apply_state({k: (list(v) if k == "_milestones" else v)
                              for k, v in state.items() if k != "_schedulers"})
        for s, sub in zip(self._schedulers, state["_schedulers"]):
            s._apply_state(sub)


class ReduceLROnPlateau:
    """Divide the lr by ``1/factor`` when a metric stops improving for ``patience`` epochs.

    ``mode="min"`` (a loss) or ``"max"`` (an accuracy). An epoch improves on the best so
    far by more than ``threshold`` (relative: ``best·(1 ∓ threshold)``, or absolute with
    ``threshold_mode="abs"``). After a reduction, ``cooldown`` epochs pass before bad
    epochs count again; the lr never goes below ``min_lr``, and changes smaller than
    ``eps`` are skipped. Call ``step(metric)`` once per epoch.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer "
                            "(expected a tinynet Optimizer)")
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs, got {len(min_lr)}")
            min_lrs = list(min_lr)
        else:
            min_lrs = [min_lr] * n
        self._check_hypers(dict(factor=factor, mode=mode, threshold_mode=threshold_mode, patience=patience,
                                threshold=threshold, cooldown=cooldown, min_lrs=min_lrs, eps=eps), "ReduceLROnPlateau")
        self.min_lrs = [float(m) for m in min_lrs]
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.mode = mode
        self.eps = eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (1.0 + self.threshold)
        return a > best + self.threshold

    def step(self, metrics, epoch=None):
        """Record this epoch's metric and reduce the lr if it has plateaued."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as plain data, and the class tag (:data:`CLASS_KEY`)."""
        out = {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}
        out[CLASS_KEY] = type(self).__name__
        return out

    def load_state_dict(self, state_dict: dict):
        """Restore a state from :meth:`state_dict`; all or nothing, as the other schedulers'."""
        self._apply_state(self._checked_state(state_dict, "ReduceLROnPlateau.load_state_dict"))

    def _checked_state(self, state_dict, where: str) -> dict:
        state = _checked_keys(self, state_dict, where)
        self._check_hypers(state, where)
        for key in ("last_epoch", "num_bad_epochs", "cooldown_counter"):
            _require(_is_int(state[key]) and state[key] >= 0, where, f"{key} must be an int >= 0", **{key: state[key]})
        best = state["best"]
        _require(isinstance(best, numbers.Real) and not isinstance(best, bool) and not math.isnan(best), where,
                 "best must be a number (inf before the first step), not NaN", best=best)
        _check_lrs(where, "_last_lr", state["_last_lr"], len(self.optimizer.param_groups))
        return state

    def _apply_state(self, state: dict):
        for k, v in state.items():
            self.__dict__[k] = list(v) if k in ("min_lrs", "_last_lr") else v

    def _check_hypers(self, values: dict, where: str):
        """The constructor's checks, PyTorch's messages where PyTorch has one."""
        factor, mode, threshold_mode = values["factor"], values["mode"], values["threshold_mode"]
        _require(_is_finite(factor) and factor < 1.0, where, "Factor should be < 1.0.", factor=factor)
        _require(factor >= 0, where, "factor must be >= 0", factor=factor)
        _require(mode in ("min", "max"), where, f"mode {mode} is unknown! Expected 'min' or 'max'", mode=mode)
        _require(threshold_mode in ("rel", "abs"), where,
                 f"threshold mode {threshold_mode} is unknown! Expected 'rel' or 'abs'", threshold_mode=threshold_mode)
        for key in ("patience", "cooldown"):
            _require(_is_int(values[key]) and values[key] >= 0, where, f"{key} must be an int >= 0",
                     **{key: values[key]})
        for key in ("threshold", "eps"):
            _require(_is_finite(values[key]) and values[key] >= 0, where, f"{key} must be a finite number >= 0",
                     **{key: values[key]})
        _check_lrs(where, "min_lrs", values["min_lrs"], len(self.optimizer.param_groups))


# --- the schedules added after the first ones -------------------------------------------------------
def _check_optimizer(where: str, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: {type(optimizer).__name__} is not an Optimizer (expected a tinynet Optimizer)")


def _format_param(where: str, name: str, optimizer, value) -> list:
    """One value per parameter group: a list/tuple of that length, or one value for all (PyTorch's rule)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{where}: {name} must have the same length as optimizer.param_groups. "
                             f"{name} has {len(value)} values, param_groups has {n}.")
        return list(value)
    return [value] * n


def _check_numbers(where: str, key: str, values, n: int, low=None, above=False):
    """``values`` must be ``n`` finite numbers, each ``>= low`` (``> low`` with ``above``)."""
    _require(isinstance(values, (list, tuple)) and len(values) == n, where,
             f"{key} must hold {n} value(s), one per parameter group of the optimizer", **{key: values})
    bound = "" if low is None else f" {'>' if above else '>='} {low:g}"
    for v in values:
        ok = _is_finite(v) and (low is None or (v > low if above else v >= low))
        _require(ok, where, f"each {key} must be a finite number{bound}", **{key: values})


def _callable_states(fns) -> list:
    """PyTorch's saved form of user functions: None for a plain function or lambda (which
    cannot be saved as data), else a copy of the callable object's ``__dict__``."""
    return [None if isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__") else dict(fn.__dict__)
            for fn in fns]


def _check_callable_states(where: str, key: str, saved, n: int):
    _require(isinstance(saved, (list, tuple)) and len(saved) == n
             and all(s is None or isinstance(s, dict) for s in saved), where,
             f"{key} must be a list of {n} entries, each None (a function) or a dict (a callable object's "
             "attributes)", **{key: saved})


class _LambdaScheduler(LRScheduler):
    """What LambdaLR and MultiplicativeLR share: one function of the epoch per parameter group."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"{name}: Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            fns = list(lr_lambda)
        else:
            fns = [lr_lambda] * n
        for fn in fns:
            if not callable(fn):
                raise TypeError(f"{name}: lr_lambda should be a function, but got {type(fn).__name__}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        """As PyTorch: ``lr_lambdas`` holds None per plain function (not saved) or the
        attributes of a callable object, which ``load_state_dict`` restores into it."""
        out = super().state_dict()
        out["lr_lambdas"] = _callable_states(self.lr_lambdas)
        return out

    def _check_hypers(self, values, where):
        _check_callable_states(where, "lr_lambdas", values["lr_lambdas"], len(self.optimizer.param_groups))

    def _apply_state(self, state):
        saved = state["lr_lambdas"]
        super()._apply_state({k: v for k, v in state.items() if k != "lr_lambdas"})
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaScheduler):
    """``lr = base_lr · lr_lambda(epoch)``: any schedule given as a function of the epoch (one
    function, or one per parameter group), e.g. ``lambda e: min(1, (e + 1) / warmup)``."""

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """``lr ← lr · lr_lambda(epoch)`` at every step (not at construction): the function
    gives the *factor* of each step, e.g. ``lambda e: 0.95``."""

    def get_lr(self):
        lrs = self._current_lrs()
        if self._is_initial:
            return lrs
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, lrs)]


class ConstantLR(LRScheduler):
    """``lr = base_lr · factor`` for the first ``total_iters`` epochs, then ``base_lr``
    (a constant warm-up)."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        self._check_hypers(dict(factor=factor, total_iters=total_iters), "ConstantLR")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        factor, total = values["factor"], values["total_iters"]
        _require(_is_finite(factor) and 0 < factor <= 1, where,
                 "Constant multiplicative factor expected to be between 0 and 1 (and not 0: the lr is divided by "
                 "it after total_iters).", factor=factor)
        _require(_is_int(total) and total > 0, where, "total_iters must be a positive int", total_iters=total)

    def get_lr(self):
        lrs = self._current_lrs()
        if self.last_epoch == 0:
            return [lr * self.factor for lr in lrs]
        if self.last_epoch != self.total_iters:
            return lrs
        return [lr * (1.0 / self.factor) for lr in lrs]

    def _get_closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Polynomial decay to 0 over ``total_iters`` epochs, then 0:
    ``lr = base_lr · (1 − min(epoch, total_iters)/total_iters)^power``."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self._check_hypers(dict(total_iters=total_iters, power=power), "PolynomialLR")
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        _require(_is_int(values["total_iters"]) and values["total_iters"] > 0, where,
                 "total_iters must be a positive int", total_iters=values["total_iters"])
        _require(_is_finite(values["power"]) and values["power"] >= 0, where, "power must be a finite number >= 0",
                 power=values["power"])

    def get_lr(self):
        lrs = self._current_lrs()
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay for lr in lrs]

    def _get_closed_form_lr(self):
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter, 2017): cosine annealing that restarts at the base lr every
    cycle, the i-th cycle lasting ``T_i = T_0 · T_mult^i`` epochs::

        lr = eta_min + (base_lr − eta_min)·(1 + cos(π·T_cur/T_i))/2

    ``T_cur`` counts the epochs since the last restart. ``step(epoch)`` jumps to any epoch,
    fractional ones too (``step(epoch + i / iters)`` inside an epoch, as in PyTorch's example);
    ``last_epoch`` is then its floor.
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        _require(_is_int(last_epoch) and last_epoch >= -1, "CosineAnnealingWarmRestarts",
                 "last_epoch must be an int >= -1", last_epoch=last_epoch)
        self._check_hypers(dict(T_0=T_0, T_mult=T_mult, eta_min=eta_min, T_i=T_0, T_cur=last_epoch),
                           "CosineAnnealingWarmRestarts")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        T_0, T_mult, eta_min = values["T_0"], values["T_mult"], values["eta_min"]
        _require(_is_int(T_0) and T_0 > 0, where, f"Expected positive integer T_0, but got {T_0}", T_0=T_0)
        _require(_is_int(T_mult) and T_mult >= 1, where, f"Expected integer T_mult >= 1, but got {T_mult}",
                 T_mult=T_mult)
        _require(_is_finite(eta_min), where, f"Expected a finite float or int eta_min, but got {eta_min!r}",
                 eta_min=eta_min)
        _require(_is_finite(values["T_i"]) and values["T_i"] > 0, where, "T_i must be a number > 0", T_i=values["T_i"])
        _require(_is_finite(values["T_cur"]) and values["T_cur"] >= -1, where, "T_cur must be a number >= -1",
                 T_cur=values["T_cur"])

    def get_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch=None):
        """Advance one epoch, or go to ``epoch`` (a number >= 0, fractional allowed)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if not _is_finite(epoch) or epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


def _momentum_support(where: str, optimizer) -> bool:
    """``use_beta1``: whether the optimizer's momentum is ``betas[0]`` (Adam-like) rather than ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{where}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                         f"({type(optimizer).__name__} has neither 'momentum' nor 'betas'; pass "
                         "cycle_momentum=False)")
    return "betas" in optimizer.defaults


def _set_momentum(group: dict, use_beta1: bool, momentum):
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017): the lr goes from ``base_lr`` up to ``max_lr`` in
    ``step_size_up`` steps and back down in ``step_size_down`` (default: the same), forever.
    Call ``step()`` after every *batch*.

    With ``x`` the position in the cycle and ``h = (max_lr − base_lr)·(rising or falling
    fraction)``, ``lr = base_lr + h·scale``: ``mode="triangular"`` scale 1;
    ``"triangular2"`` halves the amplitude every cycle (``1/2^(cycle−1)``);
    ``"exp_range"`` scales by ``gamma^iterations``; or a custom ``scale_fn(x)`` of the cycle
    number or of the iteration (``scale_mode``). With ``cycle_momentum`` the momentum (SGD's
    ``momentum`` or Adam's ``betas[0]``) cycles inversely between ``max_momentum`` and
    ``base_momentum``.
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down=None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        where = "CyclicLR"
        _check_optimizer(where, optimizer)
        _require(_is_int(last_epoch) and last_epoch >= -1, where, "last_epoch must be an int >= -1",
                 last_epoch=last_epoch)
        n = len(optimizer.param_groups)
        base_lrs = _format_param(where, "base_lr", optimizer, base_lr)
        max_lrs = _format_param(where, "max_lr", optimizer, max_lr)
        _check_numbers(where, "base_lr", base_lrs, n, low=0)
        _check_numbers(where, "max_lr", max_lrs, n, low=0)
        _require(_is_finite(step_size_up) and step_size_up > 0, where, "step_size_up must be a number > 0",
                 step_size_up=step_size_up)
        _require(step_size_down is None or (_is_finite(step_size_down) and step_size_down > 0), where,
                 "step_size_down must be None or a number > 0", step_size_down=step_size_down)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"{where}: mode is invalid and scale_fn is None (got mode={mode!r}; expected "
                             "'triangular', 'triangular2' or 'exp_range', or pass a scale_fn)")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{where}: scale_fn must be a function of one number, got {type(scale_fn).__name__}")
        _require(scale_mode in ("cycle", "iterations"), where, "scale_mode must be 'cycle' or 'iterations'",
                 scale_mode=scale_mode)
        _require(_is_finite(gamma) and gamma > 0, where, "gamma must be a finite number > 0", gamma=gamma)
        try:
            check_flag("cycle_momentum", cycle_momentum)
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None
        if cycle_momentum:
            use_beta1 = _momentum_support(where, optimizer)
            base_momentums = _format_param(where, "base_momentum", optimizer, base_momentum)
            max_momentums = _format_param(where, "max_momentum", optimizer, max_momentum)
            _check_numbers(where, "base_momentum", base_momentums, n, low=0)
            _check_numbers(where, "max_momentum", max_momentums, n, low=0)
        # everything is checked: set the groups up as PyTorch does
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = max_lrs
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums = base_momentums
            self.max_momentums = max_momentums
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, use_beta1, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self):
        """The built-in modes fix the scale's argument: the cycle number, or the iteration for exp_range."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x) -> float:
        """The amplitude's scale at ``x`` (cycle number or iteration, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base + (top - base) * scale_factor * self.scale_fn(at) for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, m_base, m_max in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self.use_beta1, m_max - (m_max - m_base) * scale_factor * self.scale_fn(at))
        return lrs

    def state_dict(self):
        """As PyTorch: ``_scale_fn_custom`` is None for a plain function (not saved) or the
        attributes of a callable object."""
        out = super().state_dict()
        fn = self._scale_fn_custom
        out["_scale_fn_custom"] = None if fn is None else _callable_states([fn])[0]
        return out

    def _check_hypers(self, values, where):
        n = len(self.optimizer.param_groups)
        _check_numbers(where, "max_lrs", values["max_lrs"], n, low=0)
        _require(_is_finite(values["total_size"]) and values["total_size"] > 0, where, "total_size must be > 0",
                 total_size=values["total_size"])
        _require(_is_finite(values["step_ratio"]) and 0 < values["step_ratio"] < 1, where,
                 "step_ratio must be in (0, 1)", step_ratio=values["step_ratio"])
        _require(values["mode"] in ("triangular", "triangular2", "exp_range") or self._scale_fn_custom is not None,
                 where, "mode must be 'triangular', 'triangular2' or 'exp_range'", mode=values["mode"])
        _require(_is_finite(values["gamma"]) and values["gamma"] > 0, where, "gamma must be a finite number > 0",
                 gamma=values["gamma"])
        _require(values["scale_mode"] in ("cycle", "iterations"), where, "scale_mode must be 'cycle' or 'iterations'",
                 scale_mode=values["scale_mode"])
        _require(isinstance(values["cycle_momentum"], (bool, np.bool_)), where, "cycle_momentum must be True or False",
                 cycle_momentum=values["cycle_momentum"])
        fn = values["_scale_fn_custom"]
        _require(fn is None or isinstance(fn, dict), where,
                 "_scale_fn_custom must be None or a dict (a callable object's attributes)", _scale_fn_custom=fn)
        if values["cycle_momentum"]:
            _require(isinstance(values["use_beta1"], (bool, np.bool_)), where, "use_beta1 must be True or False",
                     use_beta1=values["use_beta1"])
            _check_numbers(where, "base_momentums", values["base_momentums"], n, low=0)
            _check_numbers(where, "max_momentums", values["max_momentums"], n, low=0)

    def _apply_state(self, state):
        saved = state["_scale_fn_custom"]
        super()._apply_state({k: (list(v) if isinstance(v, tuple) else v) for k, v in state.items()
                              if k != "_scale_fn_custom"})
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved)
        self._init_scale_fn()


_PHASE_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): over ``total_steps`` batches (or ``epochs ×
    steps_per_epoch``), the lr rises from ``max_lr/div_factor`` to ``max_lr`` during the first
    ``pct_start`` of the steps, then anneals to ``max_lr/(div_factor·final_div_factor)``
    (``anneal_strategy`` "cos" or "linear"). ``three_phase=True``: up, back down to the initial
    lr symmetrically, then the final anneal. With ``cycle_momentum`` the momentum (SGD's
    ``momentum`` or Adam's ``betas[0]``) moves the other way between ``max_momentum`` and
    ``base_momentum``. Call ``step()`` after every batch; stepping past ``total_steps`` raises
    ValueError. The groups get PyTorch's keys ``initial_lr``, ``max_lr``, ``min_lr`` (and
    ``max_momentum``, ``base_momentum``), which the optimizer's state dict carries.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        where = "OneCycleLR"
        _check_optimizer(where, optimizer)
        _require(_is_int(last_epoch) and last_epoch >= -1, where, "last_epoch must be an int >= -1",
                 last_epoch=last_epoch)
        n = len(optimizer.param_groups)
        if total_steps is not None:
            _require(_is_int(total_steps) and total_steps > 0, where,
                     f"Expected positive integer total_steps, but got {total_steps}", total_steps=total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _require(_is_int(epochs) and epochs > 0, where, f"Expected positive integer epochs, but got {epochs}",
                     epochs=epochs)
            _require(_is_int(steps_per_epoch) and steps_per_epoch > 0, where,
                     f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}",
                     steps_per_epoch=steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{where}: You must define either total_steps OR (epochs AND steps_per_epoch)")
        _require(_is_finite(pct_start) and 0 <= pct_start <= 1, where,
                 f"Expected float between 0 and 1 pct_start, but got {pct_start}", pct_start=pct_start)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy!r}")
        max_lrs = _format_param(where, "max_lr", optimizer, max_lr)
        _check_numbers(where, "max_lr", max_lrs, n, low=0)
        _require(_is_finite(div_factor) and div_factor > 0, where, "div_factor must be a finite number > 0",
                 div_factor=div_factor)
        _require(_is_finite(final_div_factor) and final_div_factor > 0, where,
                 "final_div_factor must be a finite number > 0", final_div_factor=final_div_factor)
        for name, flag in (("three_phase", three_phase), ("cycle_momentum", cycle_momentum)):
            try:
                check_flag(name, flag)
            except TypeError as exc:
                raise TypeError(f"{where}: {exc}") from None
        if cycle_momentum:
            use_beta1 = _momentum_support(where, optimizer)
            max_momentums = _format_param(where, "max_momentum", optimizer, max_momentum)
            base_momentums = _format_param(where, "base_momentum", optimizer, base_momentum)
            _check_numbers(where, "max_momentum", max_momentums, n, low=0)
            _check_numbers(where, "base_momentum", base_momentums, n, low=0)
        # everything is checked: set the groups up as PyTorch does
        self.total_steps = total_steps
        phase = lambda end, lr0, lr1, m0, m1: dict(end_step=end, start_lr=lr0, end_lr=lr1,  # noqa: E731
                                                   start_momentum=m0, end_momentum=m1)
        if three_phase:
            self._schedule_phases = [
                phase(float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                phase(float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self._anneal_func_type = anneal_strategy
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, use_beta1, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"OneCycleLR: Tried to step {step_num} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal_func(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, self.use_beta1, momentum)
        return lrs

    def _check_hypers(self, values, where):
        _require(_is_int(values["total_steps"]) and values["total_steps"] > 0, where,
                 "total_steps must be a positive int", total_steps=values["total_steps"])
        phases = values["_schedule_phases"]
        ok = isinstance(phases, (list, tuple)) and len(phases) in (2, 3) and all(
            isinstance(p, dict) and set(p) == {"end_step", "start_lr", "end_lr", "start_momentum", "end_momentum"}
            and _is_finite(p["end_step"]) and all(p[k] in _PHASE_KEYS for k in p if k != "end_step")
            for p in phases)
        _require(ok, where, "_schedule_phases must be 2 or 3 phase dicts (end_step and the group keys they move "
                 "between)", _schedule_phases=phases)
        _require(values["_anneal_func_type"] in ("cos", "linear"), where, "_anneal_func_type must be 'cos' or 'linear'",
                 _anneal_func_type=values["_anneal_func_type"])
        _require(isinstance(values["cycle_momentum"], (bool, np.bool_)), where, "cycle_momentum must be True or False",
                 cycle_momentum=values["cycle_momentum"])
        if values["cycle_momentum"]:
            _require(isinstance(values["use_beta1"], (bool, np.bool_)), where, "use_beta1 must be True or False",
                     use_beta1=values["use_beta1"])

    def _apply_state(self, state):
        super()._apply_state({k: ([dict(p) for p in v] if k == "_schedule_phases" else v) for k, v in state.items()})


class ChainedScheduler(LRScheduler):
    """Step several schedulers together, every ``step()``: their (chainable) factors multiply,
    e.g. ``ChainedScheduler([ConstantLR(opt, 0.1, total_iters=2), ExponentialLR(opt, 0.9)])``.
    All must drive the same optimizer (``optimizer`` defaults to the first one's)."""

    def __init__(self, schedulers, optimizer=None):
        name = "ChainedScheduler"
        schedulers = list(schedulers)
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler to be chained, but got no scheduler.")
        for idx, s in enumerate(schedulers):
            if not hasattr(s, "optimizer"):
                raise TypeError(f"{name} at index {idx} should have `optimizer` as its attribute "
                                f"(got {type(s).__name__}).")
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        _check_optimizer(name, optimizer)
        for idx, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                                 "kwargs to be specified when calling `step`, but got one at index "
                                 f"{idx} in the given schedulers sequence.")
            if s.optimizer is not optimizer:
                raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, but got scheduler "
                                 f"{type(s).__name__} at index {idx} with another {type(s.optimizer).__name__}.")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = self._current_lrs()

    def step(self, epoch=None):
        """Step every scheduler once. ``epoch`` is refused (TypeError), as PyTorch's
        ``ChainedScheduler.step()`` takes none."""
        if epoch is not None:
            raise TypeError("ChainedScheduler.step() takes no epoch (as in PyTorch); call step() once per epoch")
        for s in self._schedulers:
            s.step()
        self._last_lr = self._current_lrs()

    def state_dict(self):
        out = {"_last_lr": list(self._last_lr), "_schedulers": [s.state_dict() for s in self._schedulers]}
        out[CLASS_KEY] = type(self).__name__
        return out

    def _checked_state(self, state_dict, where):
        """The chained schedulers' states, each by that scheduler's own checks."""
        state = _checked_keys(self, state_dict, where)
        _check_lrs(where, "_last_lr", state["_last_lr"], len(self.optimizer.param_groups))
        subs, n = state["_schedulers"], len(self._schedulers)
        if not isinstance(subs, (list, tuple)) or len(subs) != n:
            got = f"{len(subs)} scheduler states" if isinstance(subs, (list, tuple)) else type(subs).__name__
            raise ValueError(f"{where}: _schedulers must hold the states of this ChainedScheduler's {n} schedulers, "
                             f"got {got}")
        state["_schedulers"] = [s._checked_state(sd, f"{where}: scheduler {i}")
                                for i, (s, sd) in enumerate(zip(self._schedulers, subs))]
        return state

    def _apply_state(self, state):
        self._last_lr = list(state["_last_lr"])
        for s, sub in zip(self._schedulers, state["_schedulers"]):
            s._apply_state(sub)


__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "SequentialLR",
           "ReduceLROnPlateau", "LambdaLR", "MultiplicativeLR", "ConstantLR", "PolynomialLR",
           "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "ChainedScheduler"]
