"""PrivacyEngine: one call turns (model, optimizer, data loader) into their DP-SGD versions (Opacus' API).

``model, optimizer, loader = PrivacyEngine().make_private(module=model, optimizer=opt,
data_loader=loader, noise_multiplier=1.0, max_grad_norm=1.0)`` wraps the model in
:class:`GradSampleModule`, the optimizer in :class:`DPOptimizer`, and hooks an
:class:`RDPAccountant` onto every optimizer step; ``engine.get_epsilon(delta)`` reports the spend.

Sampling: with ``poisson_sampling=True`` (the default, as Opacus) the loader is rebuilt over the
same dataset with a :class:`UniformWithReplacementSampler` batch sampler: each example joins each
batch independently with probability ``q = batch_size / len(dataset)``, ``len(data_loader)`` batches
per epoch, which is the sampling the RDP bound is proven for. With ``poisson_sampling=False`` the
given loader's fixed-size (shuffled) batches are kept and accounted with the same q, the usual
approximation.
"""
from __future__ import annotations

from ..data.loader import DataLoader
from ..nn.module import Module
from .accountant import RDPAccountant
from .grad_sample_module import GradSampleModule
from .optimizer import DPOptimizer
from .sampler import UniformWithReplacementSampler

__all__ = ["PrivacyEngine"]


class PrivacyEngine:
    """Holds the accountant of one DP training run (``engine.accountant``)."""

    def __init__(self, accountant: str = "rdp"):
        if accountant != "rdp":
            raise ValueError(f"PrivacyEngine: accountant must be 'rdp' (the one tinynet implements), got {accountant!r}")
        self.accountant = RDPAccountant()

    def make_private(self, *, module, optimizer, data_loader, noise_multiplier, max_grad_norm,
                     loss_reduction: str = "mean", poisson_sampling: bool = True, generator=None):
        """Return ``(GradSampleModule(module), DPOptimizer(optimizer), data_loader)``; ``generator``
        (a ``tn.Generator``) drives both the noise and the Poisson batches."""
        if not isinstance(module, Module):
            raise TypeError(f"PrivacyEngine.make_private: module must be an nn.Module, got {type(module).__name__}")
        batch_size = getattr(data_loader, "batch_size", None)
        dataset = getattr(data_loader, "dataset", None)
        if not isinstance(batch_size, int) or dataset is None or not hasattr(dataset, "__len__") or len(dataset) == 0:
            raise ValueError("PrivacyEngine.make_private: data_loader must be a DataLoader with an int batch_size "
                             "over a non-empty sized dataset (the sampling rate is batch_size / len(dataset))")
        sample_rate = min(1.0, batch_size / len(dataset))
        gsm = module if isinstance(module, GradSampleModule) else GradSampleModule(module, loss_reduction=loss_reduction)
        dp_opt = DPOptimizer(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                             expected_batch_size=batch_size, loss_reduction=loss_reduction, generator=generator)
        self.sample_rate = sample_rate
        if poisson_sampling:
            sampler = UniformWithReplacementSampler(num_samples=len(dataset), sample_rate=sample_rate,
                                                    steps=len(data_loader), generator=generator)
            data_loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=data_loader.collate_fn)

        def account(opt):
            self.accountant.step(noise_multiplier=opt.noise_multiplier, sample_rate=sample_rate)

        dp_opt.step_hook = account
        return gsm, dp_opt, data_loader

    def get_epsilon(self, delta):
        """Epsilon spent so far at ``delta`` (see :meth:`RDPAccountant.get_epsilon`)."""
        return self.accountant.get_epsilon(delta)
