"""DPOptimizer: DP-SGD (Abadi et al., 2016, "Deep Learning with Differential Privacy") around any optimizer.

One step, given per-sample gradients ``g_i`` (``p.grad_sample``, from :class:`GradSampleModule`):

1. **clip** each sample's *whole* gradient (all parameters together) to L2 norm at most C:
   ``g_i <- g_i * min(1, C / (||g_i|| + 1e-6))`` -- this bounds any one example's influence (the
   sensitivity of the sum) by C;
2. **sum** over the batch and **add noise** ``N(0, (sigma C)^2)`` independently to every coordinate
   (sigma = ``noise_multiplier``);
3. **average**: divide by the *expected* batch size B (not the actual one, which under Poisson sampling
   is random and would leak), and write the result to ``p.grad``;
4. call the wrapped optimizer's ``step`` (SGD, Adam, ... see only the privatised ``p.grad``).

The privacy cost of each step is tracked by :class:`tinynet.privacy.RDPAccountant` (the
:class:`PrivacyEngine` attaches it through :attr:`step_hook`).
"""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..tensor.tensor import Tensor
from ..tensor.creation import randn
from ..tensor.random import Generator

__all__ = ["DPOptimizer", "clip_per_sample_gradients"]


def _check_nonneg(value, name, op, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value) or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{op}: {name} must be finite and {need}, got {value}")


def per_sample_norms(grad_samples, xp):
    """L2 norm of each sample's gradient over all parameters: ``sqrt(sum_p ||g_i(p)||^2)``, shape (N,)."""
    sq = None
    for gs in grad_samples:
        s = (gs.reshape(gs.shape[0], math.prod(gs.shape[1:])) ** 2).sum(axis=1)   # explicit: N may be 0
        sq = s if sq is None else sq + s
    return xp.sqrt(sq)


def clip_per_sample_gradients(grad_samples, max_grad_norm, xp):
    """Clip each sample's joint gradient to norm ``max_grad_norm`` (factor ``min(1, C/(norm + 1e-6))``,
    as Opacus). ``grad_samples``: arrays (N, *p.shape). Returns (clipped arrays, norms before clipping)."""
    norms = per_sample_norms(grad_samples, xp)
    factor = xp.minimum(max_grad_norm / (norms + 1e-6), 1.0)
    clipped = [gs * factor.reshape((-1,) + (1,) * (gs.ndim - 1)).astype(gs.dtype) for gs in grad_samples]
    return clipped, norms


class DPOptimizer:
    """Opacus' ``DPOptimizer``: ``DPOptimizer(optim.SGD(model.parameters(), lr), noise_multiplier=1.0,
    max_grad_norm=1.0, expected_batch_size=64)``.

    ``loss_reduction="mean"`` divides the noisy sum by ``expected_batch_size`` (matching a mean loss);
    ``"sum"`` leaves it a sum. ``generator`` (a ``tn.Generator``) makes the noise reproducible.
    ``step_hook(optimizer)``, when set, runs after every step (the PrivacyEngine's accountant uses it).
    """

    def __init__(self, optimizer, *, noise_multiplier, max_grad_norm, expected_batch_size,
                 loss_reduction="mean", generator=None):
        op = "DPOptimizer"
        if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
            raise TypeError(f"{op}: expected a tinynet optimizer (with param_groups and step), "
                            f"got {type(optimizer).__name__}")
        _check_nonneg(noise_multiplier, "noise_multiplier", op)
        _check_nonneg(max_grad_norm, "max_grad_norm", op, positive=True)
        if isinstance(expected_batch_size, bool) or not isinstance(expected_batch_size, int) or expected_batch_size <= 0:
            raise ValueError(f"{op}: expected_batch_size must be a positive int, got {expected_batch_size!r}")
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"{op}: loss_reduction must be 'mean' or 'sum', got {loss_reduction!r}")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"{op}: generator must be a tn.Generator or None, got {type(generator).__name__}")
        self.original_optimizer = optimizer
        self.noise_multiplier = float(noise_multiplier)
        self.max_grad_norm = float(max_grad_norm)
        self.expected_batch_size = expected_batch_size
        self.loss_reduction = loss_reduction
        self.generator = generator
        self.step_hook = None

    @property
    def param_groups(self):
        return self.original_optimizer.param_groups

    @property
    def params(self):
        """The trainable parameters DP-SGD privatises."""
        return [p for g in self.param_groups for p in g["params"] if p.requires_grad]

    def zero_grad(self, set_to_none: bool = True):
        """Clear ``.grad`` (through the wrapped optimizer) and ``.grad_sample``."""
        self.original_optimizer.zero_grad(set_to_none=set_to_none)
        for p in self.params:
            p.grad_sample = None

    def pre_step(self):
        """Clip, sum, add noise and average into ``p.grad`` (steps 1-3 of the module docstring)."""
        params = self.params
        missing = [i for i, p in enumerate(params) if p.grad_sample is None]
        if missing:
            raise RuntimeError(
                f"DPOptimizer.step: parameter(s) {missing} have no per-sample gradient (p.grad_sample is None); "
                "wrap the model in tinynet.privacy.GradSampleModule and call loss.backward() before step()"
            )
        xp = params[0].device.xp
        clipped, _ = clip_per_sample_gradients([p.grad_sample.array for p in params], self.max_grad_norm, xp)
        std = self.noise_multiplier * self.max_grad_norm
        with no_grad():
            for p, c in zip(params, clipped):
                summed = c.sum(axis=0)
                if std > 0:
                    noise = randn(*p.shape, generator=self.generator, dtype=p.dtype, device=p.device).array
                    summed = summed + std * noise
                if self.loss_reduction == "mean":
                    summed = summed / self.expected_batch_size
                p.grad = Tensor._make(summed.astype(p.array.dtype), p.device)

    def step(self, closure=None):
        """One DP-SGD step; returns what the wrapped optimizer's step returns."""
        loss = None
        if closure is not None:
            loss = closure()
        self.pre_step()
        out = self.original_optimizer.step()
        if self.step_hook is not None:
            self.step_hook(self)
        return loss if closure is not None else out

    def state_dict(self):
        return self.original_optimizer.state_dict()

    def load_state_dict(self, state_dict):
        return self.original_optimizer.load_state_dict(state_dict)
