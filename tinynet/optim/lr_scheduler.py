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

``state_dict()`` is plain data (numbers and lists), so it can go in a checkpoint.

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
from bisect import bisect_right
from collections import Counter

import numpy as np

from .optimizer import Optimizer

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
        self._check_hypers(dict(step_size=step_size, gamma=gamma), "StepLR")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        _require(_is_int(values["step_size"]) and values["step_size"] > 0, where, "step_size must be a positive int",
                 step_size=values["step_size"])
        _require(_is_finite(values["gamma"]) and values["gamma"] > 0, where, "gamma must be a finite number > 0",
                 gamma=values["gamma"])

    def get_lr(self):
        if self._is_initial or self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
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
        if self._is_initial or self.last_epoch == 0:
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
        if self._is_initial or self.last_epoch == 0:
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
        if self._is_initial or self.last_epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self.last_epoch > self.total_iters:
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
        for s in schedulers:  # undo the step each scheduler took when it was built
            s.last_epoch -= 1
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()
        self._step_count = 1
        self._is_initial = False

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


__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "SequentialLR",
           "ReduceLROnPlateau"]
