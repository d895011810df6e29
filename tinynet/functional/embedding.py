"""Embedding lookup: row ``ids[i]`` of a table, and its scatter-add gradient.

``out[..., :] = weight[ids[...], :]`` is a gather, so its gradient is a scatter-add:
every position that read row ``r`` adds its output gradient into ``dweight[r]``
(repeated ids accumulate). The ``padding_idx`` row receives no gradient, so a padding
embedding stays where it was initialised (zero in ``nn.Embedding``).

Both directions are Ops (:class:`Embedding` gathers, :class:`EmbeddingBackward`
scatters) and each is the other's backward, so gradients of gradients work.
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor

__all__ = ["embedding"]  # the public ops: tinynet.functional and tn.<name> export these


#: Largest one-hot matrix (rows x ids) the scatter-add builds instead of calling add.at.
_ONE_HOT_MAX = 1 << 19


def _scatter_add(xp, ids, g, num_rows, padding_idx):
    """Sum the rows of ``g`` (one per id) into a zero table of ``num_rows`` rows."""
    dim = g.shape[-1]
    flat_ids = ids.reshape(-1)
    flat_g = g.reshape(-1, dim)
    out = xp.zeros((num_rows, dim), dtype=g.dtype)
    if flat_ids.size:
        if num_rows * flat_ids.size <= _ONE_HOT_MAX:
            # small tables (characters, positions): one-hot^T @ g is one GEMM, several
            # times faster than an unbuffered scatter (``add.at``) over thousands of rows
            onehot = xp.zeros((num_rows, flat_ids.size), dtype=g.dtype)
            onehot[flat_ids, xp.arange(flat_ids.size)] = 1
            xp.matmul(onehot, flat_g, out=out)
        elif xp.__name__ == "numpy":
            xp.add.at(out, flat_ids, flat_g)
        else:  # CuPy: cupyx.scatter_add is its ufunc.at for add
            import cupyx  # lazy on purpose: CuPy is optional and only a real GPU reaches this line

            cupyx.scatter_add(out, flat_ids, flat_g)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class Embedding(Op):
    """``weight[ids]`` (ids is a constant integer array kept on the instance)."""

    name = "embedding"
    saves_output = False

    def forward(self, weight):
        return weight[self.ids]

    def backward(self, g):
        return EmbeddingBackward.apply(g, ids=self.ids, num_rows=self.inputs[0].shape[0],
                                       padding_idx=self.padding_idx)


class EmbeddingBackward(Op):
    """Scatter-add of per-position rows into a table (the gradient of :class:`Embedding`)."""

    name = "embedding_backward"
    saves_output = False

    def forward(self, g):
        return _scatter_add(self.xp, self.ids, g, self.num_rows, self.padding_idx)

    def backward(self, gg):
        out = Embedding.apply(gg, ids=self.ids, padding_idx=self.padding_idx)
        if self.padding_idx is not None:
            keep = (self.ids != self.padding_idx)[..., None].astype(gg.dtype)
            out = out * self.constant(keep)
        return out


def _check_ids(ids, num_rows: int, op: str):
    xp = ids.device.xp
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: token ids must be an integer tensor, got {ids.dtype}; convert with `.long()`"
        )
    data = ids.array
    if data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < 0 or hi >= num_rows:
            bad = hi if hi >= num_rows else lo
            raise IndexError(
                f"{op}: token id {bad} is out of range for a vocabulary of size {num_rows} "
                f"(valid ids are 0..{num_rows - 1}). Check the tokenizer's vocabulary size matches "
                "the embedding's num_embeddings."
            )
    return xp


def embedding(input, weight, padding_idx=None, *, op: str = "embedding"):
    """Look up rows of ``weight`` (num_embeddings, dim) for integer ``input`` ids of any shape.

    Returns a tensor of shape ``input.shape + (dim,)``. Ids outside ``[0, num_embeddings)``
    raise ``IndexError`` naming the id and the vocabulary size. ``padding_idx`` (may be
    negative, as in PyTorch) marks a row that gets no gradient.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input, device=weight.device)
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {tuple(weight.shape)}")
    if input.device is not weight.device:
        raise RuntimeError(
            f"{op}: ids are on {input.device.type} but the weight is on {weight.device.type}; "
            f"move the ids with `.to('{weight.device.type}')`"
        )
    num_rows = weight.shape[0]
    _check_ids(input, num_rows, op)
    if padding_idx is not None:
        if not -num_rows <= padding_idx < num_rows:
            raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {num_rows} embeddings")
        padding_idx %= num_rows
    return Embedding.apply(weight, ids=input.array, padding_idx=padding_idx)
