"""tinynet.privacy: differentially private training (DP-SGD), in the style of Opacus.

* :class:`GradSampleModule` -- per-sample gradients ``p.grad_sample`` for Linear, Conv2d, Embedding,
  LayerNorm (rules in :mod:`tinynet.privacy.grad_sample`; add more with :func:`register_grad_sampler`);
* :class:`DPOptimizer` -- clip each sample's gradient, add Gaussian noise, average, step;
* :class:`RDPAccountant` -- Rényi-DP accounting of the subsampled Gaussian mechanism -> (epsilon, delta);
* :class:`PrivacyEngine` -- ``make_private(module=, optimizer=, data_loader=, noise_multiplier=,
  max_grad_norm=)`` wires the three together, with Poisson-sampled batches
  (:class:`UniformWithReplacementSampler`).
"""
from .accountant import DEFAULT_ALPHAS, RDPAccountant, compute_rdp, get_privacy_spent
from .engine import PrivacyEngine
from .grad_sample import GRAD_SAMPLERS, compute_grad_samples, register_grad_sampler, supported_layers
from .grad_sample_module import GradSampleModule
from .optimizer import DPOptimizer, clip_per_sample_gradients
from .sampler import UniformWithReplacementSampler

__all__ = ["GradSampleModule", "DPOptimizer", "RDPAccountant", "PrivacyEngine", "register_grad_sampler",
           "compute_grad_samples", "supported_layers", "GRAD_SAMPLERS", "clip_per_sample_gradients",
           "compute_rdp", "get_privacy_spent", "DEFAULT_ALPHAS", "UniformWithReplacementSampler"]
