"""nn.Embedding: a learnable lookup table of token vectors."""
from __future__ import annotations

from .. import functional as F
from ..autograd.grad_mode import no_grad
from ..backend import get_device
from ..functional._args import as_int
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


__all__ = ["Embedding"]


class Embedding(Module):
    """``weight[ids]`` for integer ids of any shape: (...) -> (..., embedding_dim).

    Initialised N(0, 1) like PyTorch; the ``padding_idx`` row starts at zero and gets no
    gradient, so padding tokens contribute a constant zero vector. Ids outside
    ``[0, num_embeddings)`` raise IndexError naming the id and the vocabulary size.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        num_embeddings = as_int(num_embeddings, "num_embeddings", "Embedding", minimum=1)
        embedding_dim = as_int(embedding_dim, "embedding_dim", "Embedding", minimum=1)
        if padding_idx is not None:
            padding_idx = as_int(padding_idx, "padding_idx", "Embedding")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} must be within "
                    f"[-{num_embeddings}, {num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self.weight = Parameter(Tensor._make(dev.xp.empty((num_embeddings, embedding_dim), dtype=dt), dev))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, 0.0, 1.0)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._bump()

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx,
                           op=f"Embedding({self.num_embeddings}, {self.embedding_dim})")

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
