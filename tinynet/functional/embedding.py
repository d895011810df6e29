"""Embedding lookup: row ``ids[i]`` of a table, and its scatter-add gradient.

``out[..., :] = weight[ids[...], :]`` is a gather, so its gradient is a scatter-add:
every position that read row ``r`` adds its output gradient into ``dweight[r]``
(repeated ids accumulate). The ``padding_idx`` row receives no gradient, so a padding
embedding stays where it was initialised (zero in ``nn.Embedding``).

Both directions are Ops (:class:`Embedding` gathers, :class:`EmbeddingBackward`
scatters) and each is the other's backward, so gradients of gradients work.
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError, ShapeError
import numpy as _np  # host-side bag bookkeeping only (offsets, counts)

from ..autograd.op import Op
from ..autograd.grad_mode import no_grad
from ..tensor.tensor import Tensor
from .join import stack
from .reduction import amax

__all__ = ["embedding", "embedding_bag"]  # the public ops: tinynet.functional and tn.<name> export these


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
        raise DTypeError(
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


def _renorm_(weight, host_ids, max_norm, norm_type):
    """PyTorch's ``embedding_renorm_``: rescale, in place and without recording, every row
    looked up by ``host_ids`` whose ``norm_type``-norm exceeds ``max_norm`` to that norm."""
    xp, dev = weight.device.xp, weight.device
    with no_grad():
        rows = dev.from_host(_np.unique(host_ids))
        w = weight.array
        sel = w[rows]
        norms = (abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = sel * scale[:, None]
        weight._bump()


def _scale_grad_by_freq(emb, host_ids, num_rows):
    """``emb`` with the same values, whose gradient for each id is divided by that id's count
    in ``host_ids``: ``emb.detach() + (emb − emb.detach()) · (1/count)`` (the second term is
    exactly zero, so the forward is unchanged)."""
    if not host_ids.size:
        return emb
    counts = _np.bincount(host_ids.reshape(-1), minlength=num_rows)[host_ids]
    dev = emb.device
    s = Tensor._make(dev.from_host((1.0 / counts).astype(emb.dtype)[..., None]), dev)
    fixed = emb.detach()
    return fixed + (emb - fixed) * s


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False, *, op: str = "embedding"):
    """Look up rows of ``weight`` (num_embeddings, dim) for integer ``input`` ids of any shape
    (PyTorch's ``F.embedding``).

    Returns a tensor of shape ``input.shape + (dim,)``. Ids outside ``[0, num_embeddings)``
    raise ``IndexError`` naming the id and the vocabulary size. ``padding_idx`` (may be
    negative, as in PyTorch) marks a row that gets no gradient. ``max_norm`` renormalises,
    in place as PyTorch, every looked-up row whose ``norm_type``-norm exceeds it;
    ``scale_grad_by_freq`` divides each id's gradient by its count in ``input``.
    ``sparse=True`` (sparse gradients) is not supported: tinynet has no sparse tensors.
    """
    if sparse:
        raise ArgumentError(f"{op}: sparse=True (sparse gradients) is not supported: tinynet has no sparse tensors; "
                            "pass sparse=False (the gradient is then dense, the same values)")
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
            raise ArgumentError(f"{op}: padding_idx {padding_idx} is out of range for {num_rows} embeddings")
        padding_idx %= num_rows
    if max_norm is None and not scale_grad_by_freq:
        return Embedding.apply(weight, ids=input.array, padding_idx=padding_idx)
    host_ids = input.device.to_host(input.array).astype("int64")
    if max_norm is not None:
        _renorm_(weight, host_ids, float(max_norm), float(norm_type))
    out = Embedding.apply(weight, ids=input.array, padding_idx=padding_idx)
    return _scale_grad_by_freq(out, host_ids, num_rows) if scale_grad_by_freq else out


_BAG_MODES = ("sum", "mean", "max")


def _bag_bounds(input, offsets, include_last_offset, op):
    """(flat ids array, list of (start, end) per bag) from PyTorch's two input forms."""
    ids = input.array
    if input.ndim == 2:
        if offsets is not None:
            raise ArgumentError(f"{op}: offsets must be None when input is 2-D (each row is a bag), got offsets")
        b, L = ids.shape
        return ids.reshape(-1), [(i * L, (i + 1) * L) for i in range(b)]
    if input.ndim != 1:
        raise ShapeError(f"{op}: input must be 1-D (with offsets) or 2-D (B, L), got shape {tuple(input.shape)}")
    if offsets is None:
        raise ArgumentError(f"{op}: a 1-D input needs offsets (the start of each bag in input)")
    if not isinstance(offsets, Tensor):
        offsets = Tensor(offsets, device=input.device)
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise DTypeError(f"{op}: offsets must be a 1-D integer tensor, got shape {tuple(offsets.shape)} {offsets.dtype}")
    off = [int(o) for o in offsets.device.to_host(offsets.array)]
    n = int(ids.shape[0])
    if off and off[0] != 0:
        raise ArgumentError(f"{op}: offsets[0] must be 0 (the first bag starts at the first id), got {off[0]}")
    if any(b < a for a, b in zip(off, off[1:])) or (off and off[-1] > n):
        raise ArgumentError(f"{op}: offsets must be non-decreasing and at most len(input)={n}, got {off}")
    if include_last_offset:
        if not off or off[-1] != n:
            raise ArgumentError(f"{op}: with include_last_offset=True the last offset is the end of the last bag and "
                                f"must equal len(input)={n}, got offsets {off}")
        ends = off[1:]
        starts = off[:-1]
    else:
        starts, ends = off, off[1:] + [n]
    return ids, list(zip(starts, ends))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False, padding_idx=None):
    """Sums, means or maxima of bags of embeddings without materialising them (PyTorch's
    ``F.embedding_bag``).

    Bags: rows of a 2-D ``input`` (B, L), or, for a 1-D ``input``, the slices starting at
    each of ``offsets`` (with ``include_last_offset=True`` the last offset is the end of the
    last bag, so there are len(offsets) - 1 bags). Returns (B, embedding_dim)::

        sum:  out_b = Σ_{i in b} w_i · weight[id_i]      (w_i = per_sample_weights, else 1)
        mean: out_b = Σ_{i in b} weight[id_i] / |b|
        max:  out_b = max_{i in b} weight[id_i]           (per feature)

    Ids equal to ``padding_idx`` are left out (not counted in the mean); an empty bag gives
    zeros. ``per_sample_weights`` (same shape as input, differentiable) needs mode="sum".
    ``max_norm`` renormalises, in place as PyTorch, every looked-up row whose
    ``norm_type``-norm exceeds it. ``scale_grad_by_freq`` divides each id's gradient by its
    count in ``input``. ``sparse=True`` (sparse gradients) is not supported: tinynet has no
    sparse tensors, so it raises.
    """
    op = "embedding_bag"
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be a 2-D Tensor (num_embeddings, embedding_dim)")
    if not isinstance(input, Tensor):
        input = Tensor(input, device=weight.device)
    if mode not in _BAG_MODES:
        raise ArgumentError(f"{op}: mode must be one of {_BAG_MODES}, got {mode!r}")
    if sparse:
        raise ArgumentError(f"{op}: sparse=True (sparse gradients) is not supported: tinynet has no sparse tensors; "
                            "pass sparse=False (the gradient is then dense, the same values)")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ArgumentError(f"{op}: per_sample_weights is only supported for mode='sum', got mode={mode!r}")
        if not isinstance(per_sample_weights, Tensor) or tuple(per_sample_weights.shape) != tuple(input.shape):
            got = tuple(per_sample_weights.shape) if isinstance(per_sample_weights, Tensor) else type(per_sample_weights).__name__
            raise ShapeError(f"{op}: per_sample_weights must be a Tensor of the input's shape {tuple(input.shape)}, got {got}")
    if scale_grad_by_freq and mode == "max":
        raise ArgumentError(f"{op}: scale_grad_by_freq is not supported with mode='max' (as in PyTorch)")
    num_rows, dim = weight.shape
    _check_ids(input, num_rows, op)
    if padding_idx is not None:
        if not -num_rows <= padding_idx < num_rows:
            raise ArgumentError(f"{op}: padding_idx {padding_idx} is out of range for {num_rows} embeddings")
        padding_idx %= num_rows
    ids, bounds = _bag_bounds(input, offsets, include_last_offset, op)
    xp = weight.device.xp
    host_ids = weight.device.to_host(ids).astype("int64")
    if max_norm is not None:
        _renorm_(weight, host_ids, float(max_norm), float(norm_type))
    emb = embedding(Tensor._make(ids, weight.device), weight, padding_idx, op=op)  # (n, dim)
    if scale_grad_by_freq:
        emb = _scale_grad_by_freq(emb, host_ids, num_rows)
    valid = (host_ids != padding_idx) if padding_idx is not None else None
    nb = len(bounds)
    if mode == "max":
        zero = Tensor._make(xp.zeros(dim, dtype=weight.dtype), weight.device)
        outs = []
        for a, b in bounds:
            idx = list(range(a, b)) if valid is None else [i for i in range(a, b) if valid[i]]
            outs.append(amax(emb[weight.device.from_host(_np.asarray(idx, dtype=_np.int64))], axis=0) if idx else zero)
        return stack(outs, axis=0) if outs else Tensor._make(xp.zeros((0, dim), dtype=weight.dtype), weight.device)
    n = host_ids.size
    coef = _np.zeros((nb, n))
    for b_i, (a, b) in enumerate(bounds):
        coef[b_i, a:b] = 1.0
    if valid is not None:
        coef *= valid[None, :]
    if mode == "mean":
        counts = coef.sum(axis=1, keepdims=True)
        coef = coef / _np.maximum(counts, 1.0)
    A = Tensor._make(weight.device.from_host(coef.astype(weight.dtype)), weight.device)
    if per_sample_weights is not None:
        emb = emb * per_sample_weights.reshape(-1).unsqueeze(-1)
    return A @ emb
