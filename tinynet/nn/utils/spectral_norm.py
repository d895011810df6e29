"""Spectral normalisation, PyTorch's original API (``torch.nn.utils.spectral_norm``).

Miyato et al. (2018) divide a weight by its largest singular value ``σ(W)``, so the layer is
1-Lipschitz (used to stabilise GAN discriminators). ``σ`` is estimated by power iteration on
the weight viewed as a matrix (``dim`` first, the rest flattened: (h, w)), with persistent
vectors ``u`` (h,) and ``v`` (w,) kept as buffers ``weight_u`` and ``weight_v``::

    v ← normalize(Wᵀ u),  u ← normalize(W v)          (n_power_iterations times, no gradient)
    σ = uᵀ W v,           W_SN = W / σ

In training mode every forward runs the iterations (updating ``u``, ``v``); in eval mode the
stored vectors are used as they are. The gradient flows through ``W`` in ``σ`` (``u``, ``v``
are constants), as in PyTorch. The learned parameter is ``weight_orig``; ``weight`` is
recomputed before every forward by a pre-hook. ``nn.utils.parametrizations.spectral_norm``
is the newer form.
"""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...functional import normalize
from ...tensor.random import resolve
from ...tensor.tensor import Tensor
from ..module import Module
from ..parameter import Parameter
from .parametrize import _owned

__all__ = ["remove_spectral_norm", "spectral_norm"]


def _default_dim(module, dim):
    if dim is not None:
        return dim
    return 1 if type(module).__name__.startswith("ConvTranspose") else 0


def reshape_weight_to_matrix(weight, dim: int):
    """The weight as an (h, w) matrix: ``dim`` moved first, every other dimension flattened."""
    if dim != 0:
        perm = [dim] + [d for d in range(weight.ndim) if d != dim]
        weight = weight.permute(*perm)
    return weight.reshape(weight.shape[0], -1)


def normal_unit_vector(n, like, generator=None):
    """A random unit vector of length ``n`` (dtype and device of ``like``), drawn from N(0, 1)."""
    draw = resolve(generator).standard_normal(n)
    arr = like.device.from_host(draw.astype(like.dtype))
    return normalize(Tensor._make(arr, like.device), dim=0, eps=1e-12)


class SpectralNorm:
    """The forward pre-hook of :func:`spectral_norm` (see the module docstring)."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def compute_weight(self, module, do_power_iteration: bool):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = reshape_weight_to_matrix(weight, self.dim % weight.ndim)
        if do_power_iteration:
            with no_grad():
                m = mat.detach()
                for _ in range(self.n_power_iterations):
                    v.array[...] = normalize(m.t().mv(u), dim=0, eps=self.eps).array
                    u.array[...] = normalize(m.mv(v), dim=0, eps=self.eps).array
                u._bump()
                v._bump()
            u, v = u.clone(), v.clone()
        sigma = u.dot(mat.mv(v))
        return weight / sigma

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        object.__delattr__(module, self.name)
        del module._buffers[self.name + "_u"]
        del module._buffers[self.name + "_v"]
        del module._parameters[self.name + "_orig"]
        module.register_parameter(self.name, Parameter(_owned(weight)))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        if name not in module._parameters or module._parameters[name] is None:
            raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if weight.ndim == 0 or not -weight.ndim <= dim < weight.ndim:
            raise IndexError(f"spectral_norm: dim {dim} is out of range for {name} of shape {tuple(weight.shape)}")
        with no_grad():
            mat = reshape_weight_to_matrix(weight.detach(), dim % weight.ndim)
            h, w = mat.shape
            u = normal_unit_vector(h, weight)
            v = normal_unit_vector(w, weight)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        object.__setattr__(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module._spectral_norm_handles = getattr(module, "_spectral_norm_handles", {})
        module._spectral_norm_handles[name] = module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim=None):
    """Apply spectral normalisation to ``module.<name>`` (see the module docstring); returns the
    module. ``dim`` defaults to 0 (1 for ConvTranspose layers, whose output channels are dim 1).
    The vectors ``u``, ``v`` start random (the global generator) and are refined by the training
    forwards."""
    if not isinstance(module, Module):
        raise TypeError(f"spectral_norm: expected a Module, got {type(module).__name__}")
    SpectralNorm.apply(module, name, n_power_iterations, _default_dim(module, dim), eps)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo :func:`spectral_norm`: ``module.<name>`` becomes one Parameter holding ``W / σ`` with the
    stored ``u``, ``v``."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            module._spectral_norm_handles.pop(name).remove()
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
