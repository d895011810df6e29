"""nn.Embedding: a learnable lookup table of token vectors; nn.EmbeddingBag: sums/means/maxima of bags of them."""
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


__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """``weight[ids]`` for integer ids of any shape: (...) -> (..., embedding_dim).

    Initialised N(0, 1) like PyTorch; the ``padding_idx`` row starts at zero and gets no
    gradient, so padding tokens contribute a constant zero vector. Ids outside
    ``[0, num_embeddings)`` raise IndexError naming the id and the vocabulary size.
    ``max_norm``/``norm_type``/``scale_grad_by_freq`` as ``F.embedding``; ``_weight`` (an
    initial table) and ``_freeze`` (it needs no grad), and :meth:`from_pretrained`, as PyTorch.
    ``sparse=True`` raises (tinynet has no sparse gradients).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        if sparse:
            raise ValueError("Embedding: sparse=True (sparse gradients) is not supported: tinynet has no sparse "
                             "tensors; use sparse=False")
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
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        if _weight is None:
            self.weight = Parameter(Tensor._make(dev.xp.empty((num_embeddings, embedding_dim), dtype=dt), dev),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if not isinstance(_weight, Tensor) or tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight must be a Tensor of shape ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False):
        """An Embedding whose table is the 2-D tensor ``embeddings`` (shared, not copied);
        ``freeze=True`` (the default, as PyTorch) keeps it fixed (no gradient)."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError("Embedding.from_pretrained: embeddings must be a 2-D Tensor (num_embeddings, dim)")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def reset_parameters(self):
        init.normal_(self.weight, 0.0, 1.0)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._bump()

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse,
                           op=f"Embedding({self.num_embeddings}, {self.embedding_dim})")

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        if self.max_norm is not None:
            pad += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            pad += ", scale_grad_by_freq=True"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class EmbeddingBag(Module):
    """Reduces bags of embeddings (``F.embedding_bag``) without materialising them.

    ``forward(input, offsets=None, per_sample_weights=None)``: a 2-D ``input`` (B, L) is B
    bags of L ids; a 1-D ``input`` is split into bags at ``offsets``. ``mode`` is "sum",
    "mean" (default) or "max"; ``padding_idx`` ids are left out of their bag (and that row
    starts at zero and gets no gradient). Weight ~ N(0, 1), as PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight=None,
                 include_last_offset: bool = False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        label = "EmbeddingBag"
        num_embeddings = as_int(num_embeddings, "num_embeddings", label, minimum=1)
        embedding_dim = as_int(embedding_dim, "embedding_dim", label, minimum=1)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"{label}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if sparse:
            raise ValueError(f"{label}: sparse=True (sparse gradients) is not supported: tinynet has no sparse "
                             "tensors; use sparse=False")
        if padding_idx is not None:
            padding_idx = as_int(padding_idx, "padding_idx", label)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"{label}({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} must be "
                                 f"within [-{num_embeddings}, {num_embeddings})")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode, self.sparse = mode, sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = padding_idx
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        if _weight is not None:
            if not isinstance(_weight, Tensor) or tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"{label}: _weight must be a Tensor of shape ({num_embeddings}, {embedding_dim})")
            self.weight = _weight if isinstance(_weight, Parameter) else Parameter(_weight)
        else:
            self.weight = Parameter(Tensor._make(dev.xp.empty((num_embeddings, embedding_dim), dtype=dt), dev))
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, 0.0, 1.0)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._bump()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm=None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx=None):
        """An EmbeddingBag whose table is the 2-D tensor ``embeddings`` (frozen by default, as PyTorch)."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError("EmbeddingBag.from_pretrained: embeddings must be a 2-D Tensor (num_embeddings, dim)")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s + f", mode={self.mode!r}"
