"""``tn.amp.GradScaler``: dynamic loss scaling for float16 training, as ``torch.amp.GradScaler``.

float16 gradients underflow to zero below about 6e-8. Multiplying the loss by a large
scale ``S`` before ``backward()`` multiplies every gradient by ``S`` (the chain rule is
linear), lifting the small ones into float16's range; the gradients are divided by ``S``
again before the optimizer uses them. ``S`` adapts::

    scaler = tn.amp.GradScaler("cuda")
    for x, y in loader:
        opt.zero_grad()
        with tn.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()   # gradients of S * loss
        scaler.step(opt)                # unscale (divide by S); skip the step if any is inf/NaN
        scaler.update()                 # S *= backoff_factor after an inf/NaN, else
                                        # S *= growth_factor after growth_interval clean steps

The scale is kept in float32 and updated with PyTorch's rule (``_amp_update_scale_``):
after a step with an inf/NaN gradient the scale is multiplied by ``backoff_factor`` and the
count of clean steps restarts; after ``growth_interval`` clean steps in a row it is
multiplied by ``growth_factor`` (unless that overflows float32) and the count restarts.

``enabled=False`` makes every method a pass-through (``scale`` returns its argument,
``step`` calls ``optimizer.step()``), so one training loop serves both precisions.
"""
from __future__ import annotations

import math
import warnings
from collections import abc

from ..autograd.grad_mode import no_grad
from ..backend import registry as _registry
from ..functional.elementwise import isfinite
from ..tensor import creation as _creation
from ..tensor import dtypes as _dtypes
from ..tensor.tensor import Tensor

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _float32(x: float) -> float:
    """``x`` rounded to float32 (the scale's storage type), back as a Python float."""
    return float(_creation.tensor(x, dtype=_dtypes.float32).item())


class GradScaler:
    """``GradScaler(device='cuda', init_scale=2**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``: PyTorch's (see the module docstring).

    ``device`` is the device type of the gradients ("cuda" or "cpu"); with "cuda" and no
    cuda device it warns and disables itself, as PyTorch does.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if device not in ("cpu", "cuda"):
            raise ValueError(f"GradScaler: device must be 'cpu' or 'cuda', got {device!r}")
        self._device = device
        self._enabled = bool(enabled)
        if self._device == "cuda" and self._enabled and not (_registry.cuda_available()
                                                             or _registry.simulated_cuda()):
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if not growth_factor > 1.0:
                raise ValueError(f"GradScaler: the growth factor must be > 1.0, got {growth_factor}")
            if not backoff_factor < 1.0:
                raise ValueError(f"GradScaler: the backoff factor must be < 1.0, got {backoff_factor}")
            if not init_scale > 0 or not math.isfinite(init_scale):
                raise ValueError(f"GradScaler: init_scale must be a positive finite number, got {init_scale}")
            if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval < 1:
                raise ValueError(f"GradScaler: growth_interval must be a positive int, got {growth_interval!r}")
            self._init_scale = float(init_scale)
            self._scale = None  # float32 value (a Python float), set by the first scale()
            self._growth_factor = float(growth_factor)
            self._backoff_factor = float(backoff_factor)
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None  # clean steps in a row, set by the first scale()
            self._per_optimizer_states = {}

    # --- scaling ----------------------------------------------------------------------------
    def _lazy_init(self):
        if self._scale is None:
            self._scale = _float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker

    def scale(self, outputs):
        """``outputs * scale``: a Tensor, or (recursively) a list/tuple/iterable of Tensors.

        Each product is in the output's own dtype (a float16 loss stays float16)."""
        if not self._enabled:
            return outputs
        self._lazy_init()

        def apply(val):
            if isinstance(val, Tensor):
                return val * _creation.tensor(self._scale, dtype=_dtypes.float32, device=val.device)
            if isinstance(val, abc.Iterable):
                scaled = map(apply, val)
                return type(val)(scaled) if isinstance(val, (list, tuple)) else scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply(outputs)

    def _state(self, optimizer):
        return self._per_optimizer_states.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def _check_started(self, funcname):
        if self._scale is None:
            raise RuntimeError(f"GradScaler.{funcname}: no scale yet. This may indicate your script did not use "
                               "scaler.scale(loss or outputs) earlier in the iteration.")

    def unscale_(self, optimizer):
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place, and
        record whether any is inf/NaN. Call it before clipping gradients; ``step`` then does
        not unscale again. Once per optimizer between ``update()`` calls."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = _float32(1.0 / self._scale)  # PyTorch: the reciprocal in float64, stored in float32
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if g.dtype == _dtypes.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    if not bool(isfinite(g).all().item()):
                        found_inf = True
                    g.mul_(_creation.tensor(inv_scale, dtype=g.dtype, device=g.device))
        state["found_inf"] = found_inf
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale ``optimizer``'s gradients (unless ``unscale_`` did) and call
        ``optimizer.step(*args, **kwargs)`` only when none is inf/NaN; returns its result
        (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_started("step")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        retval = None
        if not state["found_inf"]:
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return retval

    def update(self, new_scale=None):
        """Update the scale: ``new_scale`` (a float, or a 1-element float32 Tensor) when given,
        else PyTorch's backoff/growth rule from the inf checks of this iteration."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad or new_scale.dtype != _dtypes.float32:
                    raise ValueError("new_scale should be a float or a 1-element float32 Tensor with "
                                     f"requires_grad=False, got shape {tuple(new_scale.shape)}, {new_scale.dtype}, "
                                     f"requires_grad={new_scale.requires_grad}")
                self._scale = float(new_scale.item())
            elif isinstance(new_scale, float):
                self._scale = _float32(new_scale)
            else:
                raise TypeError(f"new_scale should be a float or a 1-element float32 Tensor, got "
                                f"{type(new_scale).__name__}")
        else:
            checks = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not checks:
                raise RuntimeError("No inf checks were recorded prior to update(): call scaler.step(optimizer) "
                                   "(or scaler.unscale_(optimizer)) first.")
            if any(checks):
                self._scale = _float32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _float32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer_states = {}

    # --- accessors --------------------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (``init_scale`` before the first ``scale()``; 1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int):
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """``{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}``
        (empty when disabled), PyTorch's keys, so checkpoints carry over."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"} - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: the state dict lacks {sorted(missing)}")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _float32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker

    def __repr__(self):
        return (f"GradScaler(device={self._device!r}, scale={self.get_scale()}, enabled={self._enabled})")
