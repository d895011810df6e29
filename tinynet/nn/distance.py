"""Distance modules: nn.CosineSimilarity and nn.PairwiseDistance, wrapping
``F.cosine_similarity`` and ``F.pairwise_distance`` (tinynet.functional.distance)."""
from __future__ import annotations

from .. import functional as F
from ..functional._args import as_dim, as_float
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim`` (norms clamped to ``eps``)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = as_dim(dim, "dim", "CosineSimilarity")
        self.eps = as_float(eps, "eps", "CosineSimilarity")

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self):
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """``||x1 − x2 + eps||_p`` over the last dimension (``keepdim`` keeps it)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = as_float(p, "p", "PairwiseDistance")
        self.eps = as_float(eps, "eps", "PairwiseDistance")
        self.keepdim = bool(keepdim)

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self):
        return f"p={self.norm}, eps={self.eps}" + (", keepdim=True" if self.keepdim else "")
