"""Parametrizations built on ``nn.utils.parametrize`` (PyTorch's
``torch.nn.utils.parametrizations``): ``weight_norm``, ``spectral_norm`` and ``orthogonal``.

* ``weight_norm``: ``w = g · v / ‖v‖`` (norm over every dimension but ``dim``); the originals
  are ``original0 = g`` and ``original1 = v``.
* ``spectral_norm``: ``w / σ(w)``, σ estimated by power iteration on persistent buffers
  ``_u``, ``_v`` of the parametrization (updated on every training-mode access; see
  ``nn.utils.spectral_norm`` for the math). A 1-D weight is simply normalised.
* ``orthogonal``: the weight is kept orthogonal (orthonormal rows or columns for a
  rectangular one) as ``base · Q(X)``, where ``Q`` maps an unconstrained matrix ``X`` to an
  orthogonal one: ``matrix_exp`` (``Q = exp(A)``), ``cayley`` (``Q = (I − A/2)⁻¹(I + A/2)``),
  both with ``A = L − Lᴴ`` skew-symmetric from the lower triangle of ``X``, or
  ``householder`` (a product of reflections). With ``use_trivialization=True`` (the default)
  ``base`` is the orthogonalised initial weight and ``X`` starts at zero-skew (so the weight
  is unchanged by registration when it was already orthogonal). With
  ``use_trivialization=False`` (``matrix_exp``/``cayley`` only here) there is no base: the
  original is ``X`` itself (the initial weight), and the weight cannot be assigned.
"""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...backend.errors import ShapeError
from ...functional import cat, matrix_exp, normalize
from ...functional.linalg import qr, solve
from ...tensor import dtypes
from ...tensor.creation import eye, zeros
from ...tensor.random import resolve
from ...tensor.tensor import Tensor
from ..module import Module
from . import parametrize
from .spectral_norm import _default_dim, normal_unit_vector, reshape_weight_to_matrix
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name: str = "weight", dim=0):
    """Weight normalisation as a parametrization: ``module.<name>`` = ``g · v / ‖v‖`` with
    ``module.parametrizations.<name>.original0`` (g) and ``original1`` (v). ``dim=None``:
    one scalar g for the whole tensor. A state dict saved with the old ``nn.utils.weight_norm``
    (``<name>_g``, ``<name>_v``) still loads (a load-state-dict pre-hook renames the keys).
    Returns the module."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def compat_hook(mod, state_dict, prefix, *rest):
        # a checkpoint saved with the old nn.utils.weight_norm (weight_g, weight_v) loads, as PyTorch
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module.register_load_state_dict_pre_hook(compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.ndim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        if ndim and not -ndim <= dim < ndim:
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape {tuple(weight.shape)}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if ndim > 1:
            with no_grad():
                mat = reshape_weight_to_matrix(weight.detach(), self.dim)
                h, w = mat.shape
                self.register_buffer("_u", normal_unit_vector(h, weight))
                self.register_buffer("_v", normal_unit_vector(w, weight))
                self._power_method(mat, 15)

    def _power_method(self, mat, n):
        """``n`` power-iteration steps, in place on the buffers (no gradient):
        ``u ← normalize(W v)``, ``v ← normalize(Wᴴ u)``."""
        with no_grad():
            m = mat.detach()
            for _ in range(n):
                self._u.array[...] = normalize(m.mv(self._v), dim=0, eps=self.eps).array
                self._v.array[...] = normalize(m.t().mv(self._u), dim=0, eps=self.eps).array
            self._u._bump()
            self._v._bump()

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = u.dot(mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim=None):
    """Spectral normalisation as a parametrization: ``module.<name>`` = ``W / σ(W)``; the power
    iteration vectors are the buffers ``module.parametrizations.<name>[0]._u`` and ``._v``
    (15 iterations at registration, ``n_power_iterations`` per training-mode access).
    ``dim`` defaults to 0 (1 for ConvTranspose layers). Returns the module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, _default_dim(module, dim), eps))
    return module


def _is_orthogonal(Q, eps=None):
    n, k = Q.shape[-2], Q.shape[-1]
    eps = 10 * n * (2.220446049250313e-16 if Q.dtype.itemsize == 8 else 1.1920928955078125e-07) if eps is None else eps
    gram = (Q.mT @ Q).array
    xp = Q.device.xp
    return bool(xp.allclose(gram, xp.eye(k, dtype=gram.dtype), atol=eps))


def _make_orthogonal(A):
    """The Q of A's QR decomposition with the signs fixed so that R has a positive diagonal
    (a continuous, unique choice: PyTorch's)."""
    q, r = qr(A)
    d = r.diagonal(dim1=-2, dim2=-1)
    sign = (d >= 0).to(A.dtype) * 2 - 1
    return q * sign.unsqueeze(-2)


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map: str, *, use_trivialization: bool = True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:
                X = cat([X, zeros(X.shape[:-2] + (n, n - k), dtype=X.dtype, device=X.device)], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == "matrix_exp":
                Q = matrix_exp(A)
            else:
                Id = eye(n, dtype=A.dtype, device=A.device)
                Q = solve(Id - A * 0.5, Id + A * 0.5)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = _householder_product(A, tau)
            Q = Q * X.diagonal(dim1=-2, dim2=-1).to(dtypes.int64).to(X.dtype).unsqueeze(-2)
        base = self._buffers.get("base")
        if base is not None:
            Q = base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q):
        if "base" not in self._buffers:
            # without trivialization the original is the map's pre-image, which these maps
            # cannot give back (registration then keeps the weight as the original, as PyTorch)
            raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                      "parametrizations when use_trivialization=False.")
        if tuple(Q.shape) != self.shape:
            raise ShapeError(f"orthogonal: expected a matrix or batch of matrices of shape {self.shape}, got a tensor "
                             f"of shape {tuple(Q.shape)}")
        Q_init = Q
        n, k = Q.shape[-2], Q.shape[-1]
        transpose = n < k
        if transpose:
            Q = Q.mT
            n, k = k, n
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:
            N = Tensor._make(Q.device.from_host(resolve(None).standard_normal(Q.shape[:-2] + (n, n - k)).astype(Q.dtype)), Q.device)
            Q = _make_orthogonal(cat([Q, N], dim=-1))
        self.base = Q.detach()
        neg_id = zeros(Q_init.shape, dtype=Q_init.dtype, device=Q_init.device)
        m = min(Q_init.shape[-2], Q_init.shape[-1])
        idx = list(range(m))
        neg_id.array[..., idx, idx] = -1
        return neg_id


def _householder_product(A, tau):
    """The first k columns of ``H_1 ⋯ H_k``, ``H_i = I − τ_i v_i v_iᴴ`` where ``v_i`` is column i of
    ``A`` below the diagonal with a 1 on it (LAPACK's ``orgqr``, PyTorch's ``householder_product``)."""
    n, k = A.shape[-2], A.shape[-1]
    Id = eye(n, dtype=A.dtype, device=A.device)
    Q = None
    for i in range(k):
        unit = Id[:, i]
        v = A[..., :, i] + unit
        H = Id - tau[..., i].unsqueeze(-1).unsqueeze(-1) * (v.unsqueeze(-1) * v.unsqueeze(-2))
        Q = H if Q is None else Q @ H
    return Q[..., :, :k]


def orthogonal(module, name: str = "weight", orthogonal_map=None, *, use_trivialization: bool = True):
    """Keep ``module.<name>`` (a matrix or a batch of matrices) orthogonal (see the module
    docstring). ``orthogonal_map``: ``"matrix_exp"``, ``"cayley"`` or ``"householder"``; the
    default is ``matrix_exp`` for square weights and ``householder`` for rectangular ones, as
    PyTorch. Returns the module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ShapeError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if weight.dtype.kind != "f":
        raise TypeError(f"orthogonal: the weight must be floating point, got {weight.dtype}")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in ("matrix_exp", "cayley", "householder"):
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    if not use_trivialization and orthogonal_map == "householder":
        raise NotImplementedError("orthogonal: use_trivialization=False with the householder map is not supported by "
                                  "tinynet (it needs LAPACK's geqrf reflectors); use use_trivialization=True or the "
                                  "matrix_exp / cayley map")
    parametrize.register_parametrization(module, name, _Orthogonal(weight, orthogonal_map,
                                                                    use_trivialization=use_trivialization),
                                         unsafe=True)
    return module
