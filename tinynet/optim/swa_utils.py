"""Stochastic weight averaging (``torch.optim.swa_utils``): AveragedModel, SWALR, update_bn.

SWA (Izmailov et al., 2018) averages the weights a run visits late in training, with a
constant or cyclic lr; the average sits in a flatter region of the loss and usually
generalises better than the last iterate. The same machinery keeps an exponential moving
average (EMA) of the weights::

    swa_model = AveragedModel(model)                       # equal weights (SWA)
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    swa_scheduler = SWALR(optimizer, swa_lr=0.05)
    for epoch in ...:
        train(model); swa_model.update_parameters(model); swa_scheduler.step()
    update_bn(loader, swa_model)                           # BatchNorm statistics of the averaged weights
"""
from __future__ import annotations

import copy
import itertools
import math
import numbers

from ..autograd.grad_mode import no_grad
from ..backend import get_device
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from .lr_scheduler import LRScheduler, _require
from .optimizer import Optimizer as _Optimizer

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _count(num_averaged):
    return int(num_averaged.item()) if isinstance(num_averaged, Tensor) else num_averaged


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA over lists of tensors, for ``AveragedModel(multi_avg_fn=...)``:
    ``W_ema ← decay·W_ema + (1 − decay)·W_model`` (a lerp towards the model's weights).
    ``decay`` must be in [0, 1]."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                if p_ema.dtype.kind == "f":
                    p_ema.lerp_(p_model, 1 - decay)
                else:
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place equal-weight running average over lists of tensors:
    ``W_swa ← W_swa + (W_model − W_swa) / (n + 1)``, ``n`` the number of models averaged."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = _count(num_averaged)
        with no_grad():
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if p_avg.dtype.kind == "f":
                    p_avg.lerp_(p_model, 1 / (n + 1))
                else:
                    p_avg.copy_(p_avg + (p_model - p_avg) / (n + 1))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA of one tensor, returned (for ``AveragedModel(avg_fn=...)``):
    ``decay·W_ema + (1 − decay)·W_model``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """The equal-weight running average of one tensor, returned:
    ``W_swa + (W_model − W_swa) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (_count(num_averaged) + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (on ``device`` when given) whose parameters are a running average
    of ``model``'s: :meth:`update_parameters` copies them the first time, then applies
    ``avg_fn(averaged, current, n_averaged)`` (returns the new value, one tensor at a time)
    or ``multi_avg_fn(averaged_list, current_list, n_averaged)`` (in place, on lists);
    neither: the equal-weight average (SWA). ``n_averaged`` is an int64 buffer (saved in
    ``state_dict``). With ``use_buffers=True`` the buffers (BatchNorm statistics) are
    averaged too; otherwise they are copied from ``model`` at every update. Calling the
    AveragedModel runs the averaged copy (``self.module``)."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: only one of avg_fn and multi_avg_fn should be provided")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: model must be an nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        dev = get_device(device)
        self.register_buffer("n_averaged", Tensor._make(dev.xp.zeros((), dtype=_dt.int64), dev))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average (see the class docstring)."""
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        if len(mine) != len(theirs):
            raise ValueError(f"AveragedModel.update_parameters: the model has {len(theirs)} parameters"
                             f"{' and buffers' if self.use_buffers else ''}, the averaged copy {len(mine)}; "
                             "pass the model the AveragedModel was built from")
        n = int(self.n_averaged.item())
        with no_grad():
            mine_d = [p.detach() for p in mine]
            theirs_d = [p.detach().to(a.device) for p, a in zip(theirs, mine)]
            for a, b in zip(mine_d, theirs_d):
                if tuple(a.shape) != tuple(b.shape):
                    raise ValueError(f"AveragedModel.update_parameters: a tensor of shape {tuple(b.shape)} for an "
                                     f"averaged one of shape {tuple(a.shape)}; pass the model it was built from")
            if n == 0:
                for a, b in zip(mine_d, theirs_d):
                    a.copy_(b)
            elif self.avg_fn is not None:
                for a, b in zip(mine_d, theirs_d):
                    a.copy_(self.avg_fn(a, b, self.n_averaged))
            else:
                fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                groups = {}
                for a, b in zip(mine_d, theirs_d):  # PyTorch groups by device and dtype
                    groups.setdefault((a.device.type, str(a.dtype)), ([], []))
                    groups[(a.device.type, str(a.dtype))][0].append(a)
                    groups[(a.device.type, str(a.dtype))][1].append(b)
                for ours, current in groups.values():
                    fn(ours, current, self.n_averaged)
            if not self.use_buffers:
                for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                    b_swa.detach().copy_(b_model.detach().to(b_swa.device))
            self.n_averaged.add_(1)


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader``.

    Averaged weights do not match the running statistics collected while training, so
    every BatchNorm's statistics are reset and re-estimated as a plain average over the
    batches (``momentum=None`` for the pass, restored after); the model's train/eval mode
    is restored too. Each batch is a Tensor or a list/tuple whose first item is the input;
    ``device`` moves it first. A model without BatchNorm is left alone.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` (a number, or one per group) over
    ``anneal_epochs`` steps, then hold it there: at step ``t`` (``t = _step_count − 1``),
    with ``α = a(min(1, t / anneal_epochs))``, ``a`` the cosine ``(1 − cos πx)/2`` or the
    linear ``x`` ramp::

        lr_t = swa_lr·α + lr₀·(1 − α)

    where ``lr₀`` is recovered from the current lr and the previous step's α (PyTorch's
    chainable form, so it composes with the lr the optimizer has when SWA starts).
    Stores ``swa_lr`` in each parameter group, as PyTorch does."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"SWALR: {type(optimizer).__name__} is not an Optimizer (expected a tinynet Optimizer)")
        n = len(optimizer.param_groups)
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != n:
                raise ValueError(f"SWALR: swa_lr must have the same length as optimizer.param_groups. "
                                 f"optimizer.param_groups has {n} values, swa_lr has {len(swa_lr)} values")
            swa_lrs = list(swa_lr)
        else:
            swa_lrs = [swa_lr] * n
        for i, v in enumerate(swa_lrs):
            _require(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
                     "SWALR", f"swa_lr[{i}] must be a finite number >= 0", swa_lr=v)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or isinstance(anneal_epochs, bool) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        for v, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = v
        self.anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _check_hypers(self, values, where):
        _require(values["anneal_strategy"] in ("cos", "linear"), where, "anneal_strategy must be 'cos' or 'linear'",
                 anneal_strategy=values["anneal_strategy"])
        a = values["anneal_epochs"]
        _require(isinstance(a, int) and not isinstance(a, bool) and a >= 0, where,
                 "anneal_epochs must be an int >= 0", anneal_epochs=a)

    def anneal_func(self, t):
        """The annealing ramp at ``t`` in [0, 1]: cosine or linear (``anneal_strategy``)."""
        return (1 - math.cos(math.pi * t)) / 2 if self.anneal_strategy == "cos" else t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
